// Failover records from the agents' timelines: de-duplicated (several agents report the same failover), merged
// with the history already in status, bounded, newest first, and counted once each.
import { majority } from '../api/quorum.js';
import type { FailoverRecord, MuCluster, MuClusterStatus } from '../api/types.js';
import { podName } from '../builders/names.js';
import type { AgentStatus, FailoverTimeline } from './agent-status.js';
import { isoToMicros, microsToIso } from './micros.js';

/** One timeline per failover id: the new leader's own report when there is one, else the most complete. */
export function dedupeTimelines(statuses: readonly AgentStatus[]): Map<string, FailoverTimeline> {
  const best = new Map<string, { timeline: FailoverTimeline; rank: number }>();
  for (const status of statuses) {
    for (const timeline of status.failovers) {
      const rank =
        (status.replicaId === timeline.toId ? 4 : 0) +
        (timeline.firstCommitAtMicros !== undefined ? 2 : 0) +
        (timeline.permissionSwitches.length > 0 ? 1 : 0);
      const seen = best.get(timeline.id);
      if (!seen || rank > seen.rank) best.set(timeline.id, { timeline, rank });
    }
  }
  return new Map([...best].map(([id, { timeline }]) => [id, timeline]));
}

/**
 * The µs breakdown of one failover, with the engine's phase boundaries: detection = suspected → declared failed;
 * permission switch = candidacy (or, without it, detection) → a majority granted; catch-up = granted → prepared;
 * total = first sign of trouble → first commit. Without a "granted" time, switches run in parallel and the new
 * leader waits for a majority, so the phase lasts as long as the majority-th fastest switch.
 */
export function failoverRecord(cluster: MuCluster, t: LeaderChangeTimeline): FailoverRecord {
  const span = (from: number | undefined, to: number | undefined): number | undefined =>
    from !== undefined && to !== undefined ? Math.max(0, to - from) : undefined;
  const detectionMicros = span(t.suspectedAtMicros, t.detectedAtMicros) ?? 0;
  let permissionSwitchMicros = span(t.candidateAtMicros ?? t.detectedAtMicros, t.permissionsGrantedAtMicros);
  if (permissionSwitchMicros === undefined) {
    const sorted = t.permissionSwitches.map((s) => s.durationMicros).sort((a, b) => a - b);
    permissionSwitchMicros = sorted[Math.min(majority(cluster.spec.replicas), sorted.length) - 1] ?? 0;
  }
  const catchUpMicros = t.catchUpMicros ?? span(t.permissionsGrantedAtMicros, t.preparedAtMicros) ?? 0;
  const startMicros = t.suspectedAtMicros ?? t.candidateAtMicros ?? t.detectedAtMicros;
  const totalMicros =
    span(startMicros, t.firstCommitAtMicros) ?? detectionMicros + permissionSwitchMicros + catchUpMicros;
  // Agents time phases to fractions of a microsecond; status (and the CRD schema) keeps whole microseconds.
  const record: FailoverRecord = {
    id: t.id,
    from: podName(cluster, t.fromId),
    to: podName(cluster, t.toId),
    fromId: t.fromId,
    toId: t.toId,
    detectedAt: microsToIso(t.detectedAtMicros),
    detectionMicros: Math.round(detectionMicros),
    permissionSwitchMicros: Math.round(permissionSwitchMicros),
    catchUpMicros: Math.round(catchUpMicros),
    totalMicros: Math.round(totalMicros),
    reason: camelCaseReason(t.reason ?? 'leader-failed'),
  };
  if (t.firstCommitAtMicros !== undefined) record.completedAt = microsToIso(t.firstCommitAtMicros);
  return record;
}

/** A timeline with a leader before it: a failover (or a lower id taking leadership back). */
export type LeaderChangeTimeline = FailoverTimeline & { fromId: number };

/** Timelines of leader changes, without the first election (no leader before it: nothing failed over). */
export function failoverTimelines(timelines: Iterable<FailoverTimeline>): LeaderChangeTimeline[] {
  return [...timelines].filter((t): t is LeaderChangeTimeline => t.fromId !== null);
}

/** leader-failed → LeaderFailed; CamelCase passes through. Status and Event reasons are CamelCase. */
export function camelCaseReason(reason: string): string {
  return reason
    .split(/[-_\s]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

export interface FailoverSummary {
  lastFailover?: FailoverRecord;
  failoverHistory: FailoverRecord[];
  failoverCount: number;
  /** Ids of failovers seen for the first time in this observation. */
  newIds: string[];
}

/**
 * Merges observed records into the previous status. A record is new when its id was never recorded and it is
 * newer than the previous lastFailover: an older unseen one was either counted already and trimmed from the
 * history, or missed while nobody watched; counting it could count it twice. Observed records replace recorded
 * ones with the same id (a failover first seen before its first commit gets its completion later).
 */
export function summarizeFailovers(
  observed: readonly FailoverRecord[],
  previous: MuClusterStatus | undefined,
  historyLimit: number,
): FailoverSummary {
  const recorded = new Map<string, FailoverRecord>();
  for (const r of previous?.failoverHistory ?? []) recorded.set(r.id, r);
  const previousLast = previous?.lastFailover;
  if (previousLast && !recorded.has(previousLast.id)) recorded.set(previousLast.id, previousLast);
  const watermark = previousLast?.detectedAt !== undefined ? isoToMicros(previousLast.detectedAt) : undefined;

  const newIds: string[] = [];
  const merged = new Map(recorded);
  for (const r of observed) {
    if (recorded.has(r.id)) {
      merged.set(r.id, r);
    } else if (watermark === undefined || detectedMicros(r) > watermark) {
      merged.set(r.id, r);
      newIds.push(r.id);
    }
  }
  const newestFirst = [...merged.values()].sort(
    (a, b) => detectedMicros(b) - detectedMicros(a) || b.id.localeCompare(a.id),
  );
  const summary: FailoverSummary = {
    failoverHistory: newestFirst.slice(0, historyLimit),
    failoverCount: (previous?.failoverCount ?? 0) + newIds.length,
    newIds,
  };
  if (newestFirst[0]) summary.lastFailover = newestFirst[0];
  return summary;
}

function detectedMicros(r: FailoverRecord): number {
  return r.detectedAt === undefined ? 0 : isoToMicros(r.detectedAt);
}
