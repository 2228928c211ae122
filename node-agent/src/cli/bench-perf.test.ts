// `mu bench replication|failover|kv`: usage errors name what is wrong (no native code runs), and a
// tiny smoke run of each benchmark checks the outputs' shape (never their timings).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pngjs from 'pngjs';

import { EXIT_OK, EXIT_USAGE, main } from './mu.js';

interface Captured {
  status: number;
  out: string;
  err: string;
}

async function mu(...argv: string[]): Promise<Captured> {
  let out = '';
  let err = '';
  const status = await main(argv, { out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { status, out, err };
}

describe('usage errors of the performance benchmarks', () => {
  test.each([
    [['bench', 'replication', '--fabric', 'verbs'], /--fabric must be one of soft, sim; got 'verbs'/],
    [['bench', 'replication', '--replicas', '0'], /--replicas must be an integer in \[1, 7\]; got '0'/],
    [['bench', 'replication', '--payload', '70000'], /--payload must be an integer in \[1, 65536\]/],
    [['bench', 'replication', '--windows', '1,x'], /--windows must be a comma-separated list of integers in \[1, 4096\]; got '1,x'/],
    [['bench', 'replication', '--windows', '8192'], /--windows must be a comma-separated list/],
    [['bench', 'replication', '--sweep=yes'], /--sweep takes no value/],
    [['bench', 'replication', '--iters'], /--iters needs a value \(N\)/],
    [['bench', 'failover', '--fault', 'explode'], /--fault must be one of kill, pause; got 'explode'/],
    [['bench', 'failover', '--replicas', '1'], /--replicas must be an integer in \[2, 7\]/],
    [['bench', 'failover', '--trials', '-1'], /--trials must be an integer/],
    [['bench', 'failover', '--quiet-seconds', 'soon'], /--quiet-seconds must be a number of seconds in \[0, 86400\]; got 'soon'/],
    [['bench', 'failover', '--base-port', '80'], /--base-port must be an integer in \[1024, 32000\]/],
    [['bench', 'kv', '--tests', 'set,flushall'], /--tests must be a comma-separated list of .*; got 'set,flushall'/],
    [['bench', 'kv', '--redis-port', '23001'], /--redis-port 23001 collides with the Mu replicas' ports 23000\.\.23008/],
    [['bench', 'kv', '--data-size', '0'], /--data-size must be an integer in \[1, 1048576\]/],
    [['bench', 'kv', '--clients', '0'], /--clients must be an integer in \[1, 10000\]/],
    [['bench', 'replikation'], /unknown command 'replikation' for 'mu bench'/],
  ])('mu %j', async (argv, message) => {
    const r = await mu(...argv);
    expect(r.status).toBe(EXIT_USAGE);
    expect(r.err).toMatch(message);
    expect(r.err).toMatch(/hint: /);
    expect(r.out).toBe('');
  });

  test('a near miss suggests the right flag', async () => {
    const r = await mu('bench', 'failover', '--trial', '3');
    expect(r.status).toBe(EXIT_USAGE);
    expect(r.err).toMatch(/did you mean --trials\?/);
  });

  test('mu bench lists the new commands; each has --help with its defaults', async () => {
    const group = await mu('bench', '--help');
    expect(group.out).toMatch(/\n {2}replication +propose latency/);
    expect(group.out).toMatch(/\n {2}failover +failover time/);
    expect(group.out).toMatch(/\n {2}kv +redis-benchmark/);
    const repl = await mu('bench', 'replication', '--help');
    expect(repl.status).toBe(EXIT_OK);
    expect(repl.out).toMatch(/--windows LIST +throughput: .*\(default 1,4,16,64\)/);
    const fo = await mu('bench', 'failover', '--help');
    expect(fo.out).toMatch(/--quiet-seconds S +.*\(default 30\)/);
    const kv = await mu('bench', 'kv', '--help');
    expect(kv.out).toMatch(/--redis-port PORT +the plain redis-server \(default 22999\)/);
  });
});

// Smoke runs: the native engine, very small counts, a few seconds each on an idle machine (the
// generous timeout is for a machine shared with other builds). Shapes only.
const SMOKE_TIMEOUT_MS = 180_000;
describe('smoke runs (native engine)', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'mu-bench-perf-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each(['sim', 'soft'])('mu bench replication --fabric %s', async (fabric) => {
    const json = join(dir, `replication-${fabric}.json`);
    const r = await mu('bench', 'replication', '--fabric', fabric, '--iters', '200', '--warmup', '20', '--rounds', '2',
      '--windows', '1,8', '--tput-requests', '200', '--cost-requests', '500', '--json', json, '--quiet');
    expect(r.err).not.toMatch(/error/);
    expect(r.status).toBe(EXIT_OK);
    expect(r.out).toMatch(/ratio_p50/);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.schema).toBe('mu.bench.replication/v1');
    expect(doc.latency).toMatchObject({ benchmark: 'replication-latency', fabric, payload_bytes: 64, samples: 200 });
    expect(doc.latency.p50_us).toBeLessThanOrEqual(doc.latency.p99_us);
    expect(doc.latency.floor_samples).toBeGreaterThan(0);
    expect(typeof doc.ratio_p50).toBe('number');
    expect(doc.throughput.map((t: { window: number }) => t.window)).toEqual([1, 8]);
    expect(doc.engine_cost.map((c: { mode: string }) => c.mode)).toEqual(['serial', 'batched']);
    expect(doc.engine_cost[0].leader_ns_per_request).toBeGreaterThan(0);
    expect(pngjs.PNG.sync.read(readFileSync(join(dir, `replication-${fabric}.png`))).width).toBe(960);
    expect(existsSync(join(dir, `replication-${fabric}-throughput.png`))).toBe(true);
  }, SMOKE_TIMEOUT_MS);

  test.each([
    ['sim', ['--trials', '2', '--quiet-seconds', '0.05']],
    ['soft', ['--trials', '1', '--no-quiet', '--base-port', '21500']],
  ])('mu bench failover --fabric %s', async (fabric, extra) => {
    const json = join(dir, `failover-${fabric}.json`);
    const r = await mu('bench', 'failover', '--fabric', fabric, ...extra, '--json', json, '--quiet');
    expect(r.status).toBe(EXIT_OK);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.schema).toBe('mu.bench.failover/v1');
    expect(doc.trials.length).toBe(fabric === 'sim' ? 2 : 1);
    const measured = doc.trials.filter((t: { ok: boolean }) => t.ok);
    for (const t of measured) {
      expect(t.from).toBe(0);
      expect(Object.keys(t.breakdown_us)).toEqual(['detection', 'election', 'permission_switch', 'catch_up', 'first_commit']);
    }
    if (fabric === 'sim') {
      expect(measured).toHaveLength(2); // deterministic: no machine noise
      expect(doc.quiet.measured).toBe(true);
      expect(existsSync(join(dir, 'failover-sim.png'))).toBe(true);
    } else {
      expect(doc.quiet.measured).toBe(false);
    }
  }, SMOKE_TIMEOUT_MS);

  const haveRedis = ['redis-server', 'redis-benchmark', 'redis-cli']
    .every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);
  (haveRedis ? test : test.skip)('mu bench kv', async () => {
    const json = join(dir, 'kv.json');
    const r = await mu('bench', 'kv', '--requests', '2000', '--clients', '8', '--rounds', '1', '--base-port', '23500',
      '--redis-port', '23499', '--json', json, '--quiet');
    expect(r.err).not.toMatch(/error/);
    expect(r.status).toBe(EXIT_OK);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.schema).toBe('mu.bench.kv/v1');
    expect(doc.table.map((t: { target: string; test: string }) => `${t.target} ${t.test}`).sort())
      .toEqual(['mu GET', 'mu SET', 'redis-server GET', 'redis-server SET']);
    for (const t of doc.table) expect(t.ops_per_s).toBeGreaterThan(0);
    expect(doc.ratios).toHaveLength(2);
    expect(existsSync(join(dir, 'kv.png'))).toBe(true);
    expect(existsSync(join(dir, 'kv-latency.png'))).toBe(true);
  }, SMOKE_TIMEOUT_MS);
});
