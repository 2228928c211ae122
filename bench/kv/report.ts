// Presenting `mu bench kv`: the table for the terminal, the JSON document and two PNG bar charts
// (throughput; p50/p99 latency) of redis-server beside the Mu leader, per command.
import { environment, type Environment, fixed, table, writeOutputs } from '../common.js';
import { renderBarChart } from '../plot/bar-chart.js';
import type { KvBenchResults, KvTarget } from './run.js';

export interface KvBenchDocument extends KvBenchResults {
  generated_at: string;
  environment: Environment;
}

const TARGET_LABEL: Record<KvTarget, string> = { 'redis-server': 'redis-server', mu: 'Mu leader' };

export function formatKvTable(r: KvBenchResults): string {
  const s = r.settings;
  const lines: string[] = [];
  lines.push(`redis-benchmark: ${s.requests} requests, ${s.clients} clients, pipeline ${s.pipeline}, ` +
    `${s.data_size} B values, ${s.keyspace} keys; median of ${s.rounds} round(s)`);
  lines.push(`  redis-server ${r.targets.redis.version} on :${r.targets.redis.port} (no persistence) vs. ` +
    `Mu leader on :${r.targets.mu.port} (${r.targets.mu.replicas} replicas over the soft fabric)`, '');
  lines.push(...table(['target', 'test', 'ops/s', 'p50 µs', 'p95 µs', 'p99 µs', 'max µs'],
    r.table.map((t) => [TARGET_LABEL[t.target], t.test, t.ops_per_s.toFixed(0), fixed(t.p50_us), fixed(t.p95_us),
      fixed(t.p99_us), fixed(t.max_us)]), 2));
  if (r.ratios.length > 0) {
    lines.push('', 'Mu ÷ redis-server:');
    lines.push(...table(['test', 'ops/s', 'p50', 'p99'],
      r.ratios.map((x) => [x.test, x.ops_per_s.toFixed(2), x.p50.toFixed(2), x.p99.toFixed(2)]), 1));
  }
  return `${lines.join('\n')}\n`;
}

function byTest(r: KvBenchResults): { tests: string[]; get: (target: KvTarget, test: string) => KvBenchResults['table'][number] | undefined } {
  const tests = [...new Set(r.table.map((t) => t.test))];
  return { tests, get: (target, test) => r.table.find((t) => t.target === target && t.test === test) };
}

export function renderKvThroughputPlot(r: KvBenchResults): Buffer {
  const { tests, get } = byTest(r);
  return renderBarChart({
    title: `redis-benchmark: redis-server vs Mu leader (${r.settings.clients} clients, pipeline ${r.settings.pipeline})`,
    xLabel: 'command',
    yLabel: 'operations per second',
    categories: tests,
    mode: 'grouped',
    valueLabels: true,
    series: (['redis-server', 'mu'] as const).map((target) => ({
      name: TARGET_LABEL[target],
      values: tests.map((test) => get(target, test)?.ops_per_s ?? 0),
    })),
  });
}

export function renderKvLatencyPlot(r: KvBenchResults): Buffer {
  const { tests, get } = byTest(r);
  const categories = tests.flatMap((t) => [`${t} p50`, `${t} p99`]);
  return renderBarChart({
    title: 'redis-benchmark latency: redis-server vs Mu leader',
    xLabel: 'command and percentile',
    yLabel: 'latency (µs)',
    categories,
    mode: 'grouped',
    valueLabels: true,
    series: (['redis-server', 'mu'] as const).map((target) => ({
      name: TARGET_LABEL[target],
      values: tests.flatMap((test) => [get(target, test)?.p50_us ?? 0, get(target, test)?.p99_us ?? 0]),
    })),
  });
}

export function kvBenchDocument(results: KvBenchResults, engineVersion: string, now: Date = new Date()): KvBenchDocument {
  return { ...results, generated_at: now.toISOString(), environment: environment(engineVersion) };
}

export function writeKvBenchOutputs(doc: KvBenchDocument, jsonPath: string): { json: string; pngs: string[] } {
  return writeOutputs(doc, jsonPath, [
    { suffix: '', bytes: renderKvThroughputPlot(doc) },
    { suffix: '-latency', bytes: renderKvLatencyPlot(doc) },
  ]);
}
