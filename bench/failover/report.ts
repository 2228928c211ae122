// Presenting the failover benchmark (native/tools/bench_failover.h): the terminal summary, the
// JSON document with the paper's settings beside ours, and the PNG timeline — one stacked bar per
// trial: detection, election, permission switch, catch-up, first commit.
import type { FailoverBenchResults, FailoverBreakdown } from '../../node-agent/src/native/perf-bench.js';
import { environment, type Environment, fixed, table, writeOutputs } from '../common.js';
import { renderBarChart } from '../plot/bar-chart.js';
import { PALETTE } from '../plot/line-chart.js';

/** What the Mu paper (OSDI 2020) reports and uses, for the side-by-side in the document. */
export const PAPER = {
  source: 'Aguilera et al., Microsecond Consensus for Microsecond Applications, OSDI 2020',
  fabric: '100 Gb/s InfiniBand (RDMA NICs), a dedicated background-plane thread per replica',
  heartbeat_read: 'back-to-back one-sided READs of each peer\'s counter (no fixed sleep between reads)',
  score_max: 15,
  failure_threshold: 2,
  recovery_threshold: 6,
  failover_p50_us: 873,
} as const;

export const TARGETS = { failover_p50_us: 1000, failover_p99_us: 5000, spurious_leader_changes: 0 } as const;

export const PHASES: readonly { key: keyof FailoverBreakdown; label: string }[] = [
  { key: 'detection', label: 'detection' },
  { key: 'election', label: 'election' },
  { key: 'permission_switch', label: 'permission switch' },
  { key: 'catch_up', label: 'catch-up' },
  { key: 'first_commit', label: 'first commit' },
];

export interface FailoverBenchDocument extends FailoverBenchResults {
  generated_at: string;
  environment: Environment;
  paper: typeof PAPER;
  targets: typeof TARGETS;
}

function unit(r: FailoverBenchResults): string {
  return r.time_base === 'virtual' ? 'virtual µs' : 'µs';
}

export function formatFailoverTable(r: FailoverBenchResults): string {
  const u = unit(r);
  const lines: string[] = [];
  const ok = r.trials.filter((t) => t.ok).length;
  lines.push(`failover over ${r.fabric} (${r.time_base}), ${r.replicas} replicas, fault '${r.fault}'` +
    `${r.fault === 'pause' ? ` (${r.pause_ms} ms)` : ''}: ${ok} of ${r.trials.length} trials measured` +
    `${r.failed_trials > 0 ? `, ${r.failed_trials} failed or disturbed` : ''}; load ${r.load_per_second} proposals/s`);
  lines.push('', `fault → first commit by the new leader, ${u}:`);
  const s = r.summary;
  lines.push(...table(['phase', 'p50', 'p99', 'max', 'mean'], [
    ...PHASES.map((p) => [p.label, fixed(s[p.key].p50_us), fixed(s[p.key].p99_us), fixed(s[p.key].max_us), fixed(s[p.key].mean_us)]),
    ['total', fixed(s.total.p50_us), fixed(s.total.p99_us), fixed(s.total.max_us), fixed(s.total.mean_us)],
  ], 1));
  for (const t of r.trials.filter((x) => !x.ok).slice(0, 5)) lines.push(`  trial ${t.trial}: ${t.error}`);
  const st = r.settings;
  lines.push('', 'detector settings (ours vs the paper):');
  lines.push(...table(['setting', 'ours', 'paper'], [
    ['heartbeat read', `every ${fixed(st.read_period_us)} µs`, 'back-to-back READs'],
    ['score max', String(st.score_max), String(PAPER.score_max)],
    ['failure threshold', String(st.failure_threshold), String(PAPER.failure_threshold)],
    ['recovery threshold', String(st.recovery_threshold), String(PAPER.recovery_threshold)],
    ['missed reads to detect', String(st.misses_to_detect), `${PAPER.score_max - PAPER.failure_threshold}`],
    ['nominal detection', `${fixed(st.nominal_detection_us)} µs`, '-'],
    ['failover p50', `${fixed(s.total.p50_us)} ${u}`, `${PAPER.failover_p50_us} µs`],
  ], 1));
  if (r.quiet.measured) {
    lines.push('', `quiet load for ${r.quiet.seconds.toFixed(1)} ${r.time_base === 'virtual' ? 'virtual ' : ''}s ` +
      `(${r.quiet.proposals} proposals, ${r.quiet.applied} applied on the leader): ` +
      `${r.quiet.leader_changes} spurious leader changes, ${r.quiet.failovers} takeovers ` +
      `(target ${TARGETS.spurious_leader_changes})`);
    for (const e of r.quiet.events.slice(0, 8)) lines.push(`  ${e}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * One stacked bar per measured trial: the phases from the fault to the first commit. With
 * `afterDetection`, detection is left out, so that the phases it dwarfs can be read.
 */
export function renderFailoverTimeline(r: FailoverBenchResults, afterDetection = false): Buffer {
  const trials = r.trials.filter((t) => t.ok && t.breakdown_us);
  if (trials.length === 0) throw new RangeError('failover timeline: no measured trial to plot');
  const phases = afterDetection ? PHASES.filter((p) => p.key !== 'detection') : PHASES;
  const tallest = Math.max(...trials.map((t) => phases.reduce((sum, p) => sum + Math.max(0, t.breakdown_us![p.key]), 0)));
  const scale = tallest >= 5000 ? 1000 : 1;
  const unitLabel = scale === 1000 ? (r.time_base === 'virtual' ? 'virtual ms' : 'ms') : unit(r);
  return renderBarChart({
    title: `Mu failover over ${r.fabric} (${r.fault}): ${afterDetection ? 'detection to first commit' : 'fault to first commit'}, per trial`,
    xLabel: 'trial',
    yLabel: `${afterDetection ? 'time since detection' : 'time since the fault'} (${unitLabel})`,
    categories: trials.map((t) => String(t.trial)),
    mode: 'stacked',
    series: phases.map((p) => ({
      name: p.label,
      values: trials.map((t) => Math.max(0, t.breakdown_us![p.key]) / scale),
      color: PALETTE[PHASES.indexOf(p) % PALETTE.length],
    })),
  });
}

export function failoverBenchDocument(results: FailoverBenchResults, engineVersion: string,
  now: Date = new Date()): FailoverBenchDocument {
  return { ...results, generated_at: now.toISOString(), environment: environment(engineVersion), paper: PAPER, targets: TARGETS };
}

export function writeFailoverBenchOutputs(doc: FailoverBenchDocument, jsonPath: string): { json: string; pngs: string[] } {
  const measured = doc.trials.some((t) => t.ok);
  return writeOutputs(doc, jsonPath, measured ? [
    { suffix: '', bytes: renderFailoverTimeline(doc) },
    { suffix: '-after-detection', bytes: renderFailoverTimeline(doc, true) },
  ] : []);
}
