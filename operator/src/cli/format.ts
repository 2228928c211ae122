// Text views of a MuCluster for `kubectl mu`: pure functions of the object, unit-tested without a cluster.
import type { FailoverRecord, MuCluster } from '../api/types.js';

/** Left-aligned columns, two spaces apart, like kubectl's tables. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function micros(n: number | undefined): string {
  return n === undefined ? '-' : `${n}µs`;
}

function age(iso: string | undefined, now: Date): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

export function failoverRows(records: readonly FailoverRecord[], now: Date): string[][] {
  return records.map((r) => [
    age(r.completedAt ?? r.detectedAt, now),
    `${r.from ?? '?'} → ${r.to ?? '?'}`,
    micros(r.totalMicros),
    micros(r.detectionMicros),
    micros(r.permissionSwitchMicros),
    micros(r.catchUpMicros),
    r.reason ?? '-',
  ]);
}

const FAILOVER_HEADER = ['AGO', 'FROM → TO', 'TOTAL', 'DETECTION', 'PERMISSION-SWITCH', 'CATCH-UP', 'REASON'];

export function formatStatus(cluster: MuCluster, now: Date, failoverLimit = 3): string {
  const s = cluster.status ?? {};
  const out: string[] = [];
  const ns = cluster.metadata.namespace;
  out.push(`MuCluster ${ns}/${cluster.metadata.name}: ${s.phase ?? 'Unknown'}`);
  out.push(
    `  replicas ${s.readyReplicas ?? 0}/${cluster.spec.replicas} ready, fabric ${cluster.spec.fabric}, ` +
      `observed generation ${s.observedGeneration ?? '-'} of ${cluster.metadata.generation ?? '-'}`,
  );
  if (s.leader) {
    const on = s.leader.node ? ` on ${s.leader.node}` : '';
    out.push(`  leader ${s.leader.member} (id ${s.leader.id})${on}, since ${s.leader.since ?? '-'}`);
  } else {
    out.push('  leader: none reported');
  }
  if (s.targetLeader) out.push(`  switchover requested to ${s.targetLeader}`);
  out.push('');
  const members = (s.members ?? []).map((m) => [
    m.name,
    String(m.id),
    m.role ?? 'unknown',
    m.ready ? 'yes' : 'no',
    m.node ?? '-',
    m.host ?? '-',
    age(m.lastSeen, now),
    m.message ?? '',
  ]);
  out.push(table(['MEMBER', 'ID', 'ROLE', 'READY', 'NODE', 'HOST', 'SEEN', 'PROBLEM'], members));
  out.push('');
  const conditions = (s.conditions ?? []).map((c) => [c.type, c.status, c.reason, c.message]);
  out.push(table(['CONDITION', 'STATUS', 'REASON', 'MESSAGE'], conditions));
  out.push('');
  const history = s.failoverHistory ?? (s.lastFailover ? [s.lastFailover] : []);
  out.push(`Failovers: ${s.failoverCount ?? 0} since creation${history.length > failoverLimit ? `, latest ${failoverLimit}:` : ''}`);
  if (history.length > 0) out.push(table(FAILOVER_HEADER, failoverRows(history.slice(0, failoverLimit), now)));
  const ps = s.permissionSwitch;
  if (ps?.samples) {
    const mech = Object.entries(ps.mechanismCounts ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    out.push(`Permission switch: p50 ${micros(ps.p50Micros)}, p99 ${micros(ps.p99Micros)} over ${ps.samples} samples${mech ? ` (${mech})` : ''}`);
  }
  return `${out.join('\n')}\n`;
}

export function formatFailovers(cluster: MuCluster, now: Date): string {
  const s = cluster.status ?? {};
  const history = s.failoverHistory ?? [];
  if (history.length === 0) return `No failovers recorded for ${cluster.metadata.name} (count ${s.failoverCount ?? 0}).\n`;
  return `${table(FAILOVER_HEADER, failoverRows(history, now))}\n${s.failoverCount ?? history.length} failover(s) since creation; the newest ${history.length} are kept (spec.failoverHistoryLimit).\n`;
}
