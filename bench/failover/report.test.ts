import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pngjs from 'pngjs';

import { failoverFixture } from '../fixtures.js';
import {
  failoverBenchDocument, formatFailoverTable, PAPER, renderFailoverTimeline, writeFailoverBenchOutputs,
} from './report.js';

describe('failover report', () => {
  test('the table has the breakdown, the settings beside the paper\'s, and the quiet phase', () => {
    const text = formatFailoverTable(failoverFixture());
    expect(text).toMatch(/3 of 4 trials measured, 1 failed or disturbed/);
    expect(text).toMatch(/\n +detection +13100 +13200 /);
    expect(text).toMatch(/\n +permission switch +70\.00 +90\.00 /);
    expect(text).toMatch(/\n +total +13500 +13700 /);
    expect(text).toMatch(/trial 3: no takeover within 10000 ms/);
    expect(text).toMatch(/heartbeat read +every 1000 µs +back-to-back READs/);
    expect(text).toMatch(/failover p50 +13500 µs +873 µs/);
    expect(text).toMatch(/0 spurious leader changes/);
  });

  test('the timeline plots one stacked bar per measured trial', () => {
    const png = pngjs.PNG.sync.read(renderFailoverTimeline(failoverFixture()));
    expect([png.width, png.height]).toEqual([960, 600]);
    const after = pngjs.PNG.sync.read(renderFailoverTimeline(failoverFixture(), true));
    expect(after.width).toBe(960);
  });

  test('no measured trial: no plot, and the renderer says why', () => {
    const r = failoverFixture();
    r.trials = r.trials.filter((t) => !t.ok);
    expect(() => renderFailoverTimeline(r)).toThrow(/no measured trial/);
    const dir = mkdtempSync(join(tmpdir(), 'mu-fo-report-'));
    try {
      expect(writeFailoverBenchOutputs(failoverBenchDocument(r, '0.1.0'), join(dir, 'f.json')).pngs).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the document carries the paper\'s settings and the targets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mu-fo-report-'));
    try {
      const written = writeFailoverBenchOutputs(failoverBenchDocument(failoverFixture(), '0.1.0'), join(dir, 'f.json'));
      expect(written.pngs).toHaveLength(2);
      const doc = JSON.parse(readFileSync(written.json, 'utf8'));
      expect(doc.paper.failure_threshold).toBe(PAPER.failure_threshold);
      expect(doc.targets).toEqual({ failover_p50_us: 1000, failover_p99_us: 5000, spurious_leader_changes: 0 });
      expect(doc.trials[0].breakdown_us.detection).toBe(13000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
