import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { type FabricBenchResults, loadEngine, packageRoot } from './engine.js';

const SWEEP = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

describe('the native engine addon', () => {
  test('loads and reports the package version and its fabrics', () => {
    const engine = loadEngine();
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
    expect(engine.version()).toBe(pkg.version);
    expect(engine.fabrics).toEqual(expect.arrayContaining(['sim', 'soft']));
    expect(engine.napiVersion).toBeGreaterThanOrEqual(8);
  });

  describe('benchFabric on sim', () => {
    let results: FabricBenchResults;
    const progress: string[] = [];
    beforeAll(async () => {
      results = await loadEngine().benchFabric({
        fabric: 'sim', iterations: 300, warmupIterations: 20, permissionIterations: 10, seed: 7,
        onProgress: (line) => progress.push(line),
      });
    });

    test('has the documented shape', () => {
      expect(results).toMatchObject({
        schema: 'mu.bench.fabric/v1', fabric: 'sim', time_base: 'virtual', iterations: 300,
        warmup_iterations: 20, permission_iterations: 10, seed: 7,
      });
      expect(results.write_rtt).toMatchObject({ benchmark: 'fabric-write-rtt', payload_bytes: 64, samples: 300 });
      expect(results.points.map((p) => p.payload_bytes)).toEqual(SWEEP);
    });

    test('latencies are positive and ordered, inline exactly up to max_inline', () => {
      expect(results.max_inline).toBeGreaterThan(0);
      for (const p of [results.write_rtt, ...results.points]) {
        expect(p.samples).toBe(300);
        expect(p.min_us).toBeGreaterThan(0);
        expect(p.min_us).toBeLessThanOrEqual(p.p50_us);
        expect(p.p50_us).toBeLessThanOrEqual(p.p99_us);
        expect(p.p99_us).toBeLessThanOrEqual(p.max_us);
        expect(p.mean_us).toBeGreaterThanOrEqual(p.min_us);
        expect(p.mean_us).toBeLessThanOrEqual(p.max_us);
        expect(p.wall_ns_per_op).toBeGreaterThan(0);
        expect(p.inline).toBe(p.payload_bytes <= results.max_inline);
      }
    });

    test('times both permission paths', () => {
      const steps = results.permission_changes.map((c) => `${c.path}/${c.mechanism}/${c.step}`);
      expect(steps).toEqual([
        'fast/qp-access-flags/revoke', 'fast/qp-access-flags/grant',
        'slow/qp-state-cycle/responder', 'slow/qp-state-cycle/requester', 'slow/qp-state-cycle/both',
      ]);
      for (const c of results.permission_changes) {
        expect(c).toMatchObject({ benchmark: 'fabric-permission-change', fabric: 'sim', samples: 10 });
        expect(c.p50_us).toBeLessThanOrEqual(c.p99_us);
      }
    });

    test('reports progress through onProgress', () => {
      expect(progress.some((l) => l.includes('payload sweep'))).toBe(true);
      expect(progress.some((l) => l.includes('slow path'))).toBe(true);
    });

    test('the same seed gives the same virtual-time figures', async () => {
      const again = await loadEngine().benchFabric({
        fabric: 'sim', iterations: 300, warmupIterations: 20, permissionIterations: 10, seed: 7,
      });
      const figures = (r: FabricBenchResults) => r.points.map((p) => [p.p50_us, p.p99_us, p.mean_us]);
      expect(figures(again)).toEqual(figures(results));
    });
  });

  test('bad options throw a TypeError naming the option', () => {
    const engine = loadEngine();
    const call = (options: unknown) => () => engine.benchFabric(options as never);
    expect(call({ fabric: 'ethernet' })).toThrow(/options\.fabric must be 'sim' or 'soft'/);
    expect(call({})).toThrow(/options\.fabric/);
    expect(call({ fabric: 'sim', iterations: 0 })).toThrow(/options\.iterations must be an integer in \[1, /);
    expect(call({ fabric: 'sim', iterations: 2.5 })).toThrow(/got 2\.5/);
    // The addon's TypeError comes from the main realm, not jest's sandbox: compare by name.
    expect(call({ fabric: 'sim', seed: -1 })).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(call({ fabric: 'sim', payloadSizes: [64, 0] })).toThrow(/options\.payloadSizes\[1\]/);
    expect(call({ fabric: 'sim', itrations: 5 })).toThrow(/unknown option 'itrations'/);
    expect(call({ fabric: 'sim', onProgress: 'yes' })).toThrow(/options\.onProgress must be a function/);
    expect(call('sim')).toThrow(/expects an options object/);
  });

  test('a custom payload sweep is measured in the order given', async () => {
    const r = await loadEngine().benchFabric({
      fabric: 'sim', iterations: 10, warmupIterations: 0, permissionIterations: 0, payloadSizes: [4096, 1],
    });
    expect(r.points.map((p) => p.payload_bytes)).toEqual([4096, 1]);
    expect(r.permission_changes).toEqual([]);
  });
});
