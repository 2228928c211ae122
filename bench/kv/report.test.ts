import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pngjs from 'pngjs';

import { kvFixture } from '../fixtures.js';
import { formatKvTable, kvBenchDocument, renderKvLatencyPlot, writeKvBenchOutputs } from './report.js';
import { aggregate, parseRedisBenchmarkCsv } from './run.js';

const CSV = [
  '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"',
  '"SET","45662.10","0.423","0.080","0.287","1.287","3.879","11.151"',
  '"GET","32310.18","0.603","0.088","0.279","2.759","6.239","13.943"',
  '',
].join('\n');

describe('redis-benchmark CSV', () => {
  test('parses rows into µs', () => {
    const rows = parseRedisBenchmarkCsv(`WARNING: Could not fetch server CONFIG\n${CSV}`, 'mu', 1);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ target: 'mu', test: 'SET', round: 1, ops_per_s: 45662.1 });
    expect(rows[0]!.p50_us).toBeCloseTo(287);
    expect(rows[1]!.p99_us).toBeCloseTo(6239);
  });

  test('rejects output it does not understand', () => {
    expect(() => parseRedisBenchmarkCsv('SET: 1000 requests per second\n', 'mu', 0)).toThrow(/no CSV/);
    expect(() => parseRedisBenchmarkCsv('"test","rps"\n"SET","1"\n', 'mu', 0)).toThrow(/lacks column 'avg_latency_ms'/);
    expect(() => parseRedisBenchmarkCsv(CSV.replace('45662.10', 'fast'), 'mu', 0)).toThrow(/bad number/);
  });

  test('aggregate takes medians over rounds and Mu ÷ redis ratios', () => {
    const runs = [
      ...parseRedisBenchmarkCsv(CSV, 'redis-server', 0), ...parseRedisBenchmarkCsv(CSV, 'mu', 0),
      ...parseRedisBenchmarkCsv(CSV.replace('45662.10', '30000'), 'mu', 1),
    ];
    const { table, ratios } = aggregate(runs);
    expect(table.find((t) => t.target === 'mu' && t.test === 'SET')!.ops_per_s).toBeCloseTo((45662.1 + 30000) / 2);
    expect(ratios.find((r) => r.test === 'GET')).toEqual({ test: 'GET', ops_per_s: 1, p50: 1, p99: 1 });
  });
});

describe('kv report', () => {
  test('the table lists both targets per command and the ratios', () => {
    const text = formatKvTable(kvFixture());
    expect(text).toMatch(/redis-server 7\.0\.15 on :22999 .* Mu leader on :23002 \(3 replicas/);
    expect(text).toMatch(/\n +redis-server +SET +60000 +400\.0 /);
    expect(text).toMatch(/\n +Mu leader +GET +41000 +690\.0 /);
    expect(text).toMatch(/\n +SET +0\.67 +1\.75 +1\.75/);
  });

  test('writes the document and both charts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mu-kv-report-'));
    try {
      const written = writeKvBenchOutputs(kvBenchDocument(kvFixture(), '0.1.0'), join(dir, 'kv.json'));
      expect(written.pngs.map((p) => p.slice(dir.length))).toEqual(['/kv.png', '/kv-latency.png']);
      expect(pngjs.PNG.sync.read(renderKvLatencyPlot(kvFixture())).width).toBe(960);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
