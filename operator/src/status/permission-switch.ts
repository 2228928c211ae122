// status.permissionSwitch: percentiles over the agents' recent switch durations, and lifetime counts per mechanism.
import type { PermissionSwitchStatus } from '../api/types.js';
import type { AgentStatus } from './agent-status.js';
import { percentile } from './percentile.js';

/** Undefined when no agent answered: keep what status had rather than flap to empty. */
export function permissionSwitchStats(statuses: readonly AgentStatus[]): PermissionSwitchStatus | undefined {
  if (statuses.length === 0) return undefined;
  const samples = statuses.flatMap((s) => s.permissionSwitch.recentMicros);
  const mechanismCounts: Record<string, number> = {};
  for (const s of statuses) {
    for (const [mechanism, count] of Object.entries(s.permissionSwitch.mechanismCounts)) {
      if (count) mechanismCounts[mechanism] = (mechanismCounts[mechanism] ?? 0) + count;
    }
  }
  const out: PermissionSwitchStatus = { samples: samples.length, mechanismCounts };
  const p50 = percentile(samples, 50);
  const p99 = percentile(samples, 99);
  // Whole microseconds, as the CRD schema has them (agents report fractions).
  if (p50 !== undefined) out.p50Micros = Math.round(p50);
  if (p99 !== undefined) out.p99Micros = Math.round(p99);
  return out;
}
