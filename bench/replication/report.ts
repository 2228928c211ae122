// Presenting the replication benchmark (native/tools/bench_replication.h): the terminal summary,
// the JSON document and the plots — propose latency against payload size beside the fabric's
// WRITE floor (the paper's Figure 3 shape), and throughput against outstanding proposals.
import type { ReplicationBenchResults, ReplicationLatencyPoint } from '../../node-agent/src/native/perf-bench.js';
import { environment, type Environment, fixed, table, writeOutputs } from '../common.js';
import { renderLineChart, type Series } from '../plot/line-chart.js';

/** Instructions per request, from callgrind (bench/replication/callgrind.ts). */
export interface CallgrindFigures {
  tool: string;
  command: string[];
  modes: { mode: 'serial' | 'batched'; batch: number; requests: number; instructions: number;
    instructions_per_request: number }[];
}

export interface ReplicationBenchDocument extends ReplicationBenchResults {
  generated_at: string;
  environment: Environment;
  targets: { ratio_p50_max: number; leader_ns_per_request_max: number };
  callgrind?: CallgrindFigures;
}

export const TARGET_RATIO_P50 = 1.3;
export const TARGET_LEADER_NS = 300;

function unit(r: ReplicationBenchResults): string {
  return r.time_base === 'virtual' ? 'virtual µs' : 'µs';
}

function allPoints(r: ReplicationBenchResults): ReplicationLatencyPoint[] {
  const points = r.points.length > 0 ? [...r.points] : [r.latency];
  return points.sort((a, b) => a.payload_bytes - b.payload_bytes);
}

export function formatReplicationTable(r: ReplicationBenchResults, callgrind?: CallgrindFigures): string {
  const u = unit(r);
  const lines: string[] = [];
  const clock = r.time_base === 'virtual' ? 'virtual time of the simulator (a model, not a machine)' : 'wall-clock time';
  lines.push(`replication over ${r.fabric}: ${r.replicas} replicas in one process, ${clock}; ` +
    `${r.iterations} proposals per size in ${r.rounds} rounds (floor interleaved), one outstanding`);
  lines.push('', `propose → applied on the leader, ${u}:`);
  const header = ['payload B', 'p50', 'p99', 'floor p50', 'floor p99', 'ratio_p50', 'fan-out p50', 'polls/req'];
  const rows = allPoints(r).map((p) => [String(p.payload_bytes), fixed(p.p50_us), fixed(p.p99_us),
    fixed(p.floor_p50_us), fixed(p.floor_p99_us), p.ratio_p50 === null ? '-' : p.ratio_p50.toFixed(2),
    fixed(p.fanout_first_p50_us), p.leader_polls_per_request.toFixed(0)]);
  lines.push(...table(header, rows, 0));
  const h = r.latency;
  if (h.ratio_p50 !== null) {
    const verdict = h.ratio_p50 <= TARGET_RATIO_P50 ? 'meets' : 'misses';
    lines.push(`  headline ${h.payload_bytes} B: ratio_p50 ${h.ratio_p50.toFixed(2)} (${verdict} the target ≤ ${TARGET_RATIO_P50})`);
    if (h.fanout_first_p50_us !== undefined && h.fanout_first_p50_us > 0) {
      lines.push(`  fan-out floor (the same WRITE to every follower at once, first completion): ` +
        `${fixed(h.fanout_first_p50_us)} ${u}; replication / fan-out = ${(h.p50_us / h.fanout_first_p50_us).toFixed(2)}`);
    }
  }
  if (r.throughput.length > 0) {
    lines.push('', `throughput (${r.latency.payload_bytes} B requests, several outstanding; batching and pipelining):`);
    lines.push(...table(['window', 'requests/s', 'entries/s', 'req/entry', `p50 ${u}`, `p99 ${u}`],
      r.throughput.map((t) => [String(t.window), t.ops_per_s.toFixed(0), t.entries_per_s.toFixed(0),
        t.mean_batch.toFixed(1), fixed(t.p50_us), fixed(t.p99_us)]), 0));
  }
  if (r.engine_cost.length > 0) {
    lines.push('', 'engine CPU cost per replicated request (sim fabric, in-process, wall-clock ns):');
    lines.push(...table(['mode', 'req/poll', 'leader', 'followers', 'simulator', 'whole loop', 'leader polls/req'],
      r.engine_cost.map((c) => [c.mode, String(c.batch), c.leader_ns_per_request.toFixed(0),
        c.followers_ns_per_request.toFixed(0), c.fabric_ns_per_request.toFixed(0), c.wall_ns_per_request.toFixed(0),
        c.leader_polls_per_request.toFixed(2)]), 1));
    lines.push(`  target: leader ≤ ${TARGET_LEADER_NS} ns per request`);
  }
  if (callgrind) {
    lines.push('', 'leader-side instructions per request (callgrind):');
    lines.push(...table(['mode', 'req/poll', 'requests', 'instructions', 'instr/request'],
      callgrind.modes.map((m) => [m.mode, String(m.batch), String(m.requests), String(m.instructions),
        m.instructions_per_request.toFixed(0)]), 1));
  }
  return `${lines.join('\n')}\n`;
}

/** Latency against payload size: p50, p99, the floor's p50 and the fan-out floor's p50. */
export function renderReplicationPlot(r: ReplicationBenchResults): Buffer {
  const points = allPoints(r);
  const series: Series[] = [
    { name: 'replication p50', points: points.map((p) => ({ x: p.payload_bytes, y: p.p50_us })), marker: 'square' },
    { name: 'replication p99', points: points.map((p) => ({ x: p.payload_bytes, y: p.p99_us })), marker: 'diamond', dashed: true },
  ];
  const floors = points.filter((p) => p.floor_p50_us !== undefined && p.floor_p50_us > 0);
  if (floors.length > 0) {
    series.push({ name: 'WRITE floor p50', points: floors.map((p) => ({ x: p.payload_bytes, y: p.floor_p50_us! })), marker: 'circle' });
  }
  const fans = points.filter((p) => p.fanout_first_p50_us !== undefined && p.fanout_first_p50_us > 0);
  if (fans.length > 0) {
    series.push({ name: 'fan-out floor p50', points: fans.map((p) => ({ x: p.payload_bytes, y: p.fanout_first_p50_us! })), marker: 'circle', dashed: true });
  }
  return renderLineChart({
    title: `Mu replication over ${r.fabric}, ${r.replicas} replicas: propose latency vs payload`,
    xLabel: 'payload (bytes, log scale)',
    yLabel: `latency (${unit(r)})`,
    xScale: 'log2',
    series,
  });
}

export function renderThroughputPlot(r: ReplicationBenchResults): Buffer {
  const pts = [...r.throughput].sort((a, b) => a.window - b.window);
  return renderLineChart({
    title: `Mu replication over ${r.fabric}: throughput vs outstanding requests (${r.latency.payload_bytes} B)`,
    xLabel: 'outstanding requests (log scale)',
    yLabel: 'requests per second',
    xScale: 'log2',
    series: [{ name: 'requests/s', points: pts.map((t) => ({ x: t.window, y: t.ops_per_s })), marker: 'square' }],
  });
}

export function replicationBenchDocument(results: ReplicationBenchResults, engineVersion: string,
  callgrind?: CallgrindFigures, now: Date = new Date()): ReplicationBenchDocument {
  const doc: ReplicationBenchDocument = {
    ...results,
    generated_at: now.toISOString(),
    environment: environment(engineVersion),
    targets: { ratio_p50_max: TARGET_RATIO_P50, leader_ns_per_request_max: TARGET_LEADER_NS },
  };
  if (callgrind) doc.callgrind = callgrind;
  return doc;
}

export function writeReplicationBenchOutputs(doc: ReplicationBenchDocument, jsonPath: string): { json: string; pngs: string[] } {
  const pngs = [{ suffix: '', bytes: renderReplicationPlot(doc) }];
  if (doc.throughput.length > 0) pngs.push({ suffix: '-throughput', bytes: renderThroughputPlot(doc) });
  return writeOutputs(doc, jsonPath, pngs);
}
