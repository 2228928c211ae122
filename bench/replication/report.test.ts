import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pngjs from 'pngjs';

import { replicationFixture } from '../fixtures.js';
import { parseCallgrindTotal } from './callgrind.js';
import {
  formatReplicationTable, renderReplicationPlot, replicationBenchDocument, writeReplicationBenchOutputs,
} from './report.js';

describe('replication report', () => {
  test('the table shows latency, floor, ratio, throughput and engine cost', () => {
    const text = formatReplicationTable(replicationFixture());
    expect(text).toMatch(/replication over soft: 3 replicas/);
    expect(text).toMatch(/\n +64 +21\.00 +63\.00 +10\.00 +30\.00 +2\.10 /);
    expect(text).toMatch(/ratio_p50 2\.10 \(misses the target ≤ 1\.3\)/);
    expect(text).toMatch(/fan-out floor .*replication \/ fan-out = 1\.11/);
    expect(text).toMatch(/\n +64 +640000 +10000 +64\.0 /);
    expect(text).toMatch(/serial +1 +800 +900 +1200 +3100 +2\.00/);
    expect(text).toMatch(/batched +8 +170 /);
  });

  test('callgrind figures are listed when given', () => {
    const text = formatReplicationTable(replicationFixture(), {
      tool: 'mu-bench-replication', command: ['valgrind'],
      modes: [{ mode: 'serial', batch: 1, requests: 100, instructions: 560_000, instructions_per_request: 5600 }],
    });
    expect(text).toMatch(/serial +1 +100 +560000 +5600/);
  });

  test('without a sweep the headline point is plotted alone', () => {
    const png = pngjs.PNG.sync.read(renderReplicationPlot(replicationFixture(false)));
    expect([png.width, png.height]).toEqual([960, 600]);
  });

  test('writes the JSON document and both plots', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mu-repl-report-'));
    try {
      const doc = replicationBenchDocument(replicationFixture(), '0.1.0', undefined, new Date(0));
      const written = writeReplicationBenchOutputs(doc, join(dir, 'out', 'r.json'));
      expect(written.pngs.map((p) => p.slice(dir.length))).toEqual(['/out/r.png', '/out/r-throughput.png']);
      const back = JSON.parse(readFileSync(written.json, 'utf8'));
      expect(back.ratio_p50).toBeCloseTo(21 / 10);
      expect(back.targets).toEqual({ ratio_p50_max: 1.3, leader_ns_per_request_max: 300 });
      expect(back.generated_at).toBe('1970-01-01T00:00:00.000Z');
      expect(back.environment.engine_version).toBe('0.1.0');
      for (const p of written.pngs) expect(existsSync(p)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('parseCallgrindTotal reads the summary (or totals) line', () => {
  expect(parseCallgrindTotal('version: 1\ncmd: x\nevents: Ir\nsummary: 113482453\n')).toBe(113482453);
  expect(parseCallgrindTotal('events: Ir\ntotals: 42\n')).toBe(42);
  expect(() => parseCallgrindTotal('events: Ir\n')).toThrow(/no summary/);
});
