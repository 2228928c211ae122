// `mu bench kv`, the driver: redis-benchmark (Debian's redis-tools) against the Mu leader (N
// KvReplicas over the soft fabric in this process, startKvBenchCluster) and against a plain
// redis-server on the same machine, in the same run, alternating which goes first per round.
import { spawn, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

import type { KvBenchCluster, KvBenchClusterOptions, KvReplicaBenchStats } from '../../node-agent/src/native/perf-bench.js';

export type KvTarget = 'redis-server' | 'mu';

/** One redis-benchmark result row, latencies converted to µs. */
export interface KvRow {
  target: KvTarget;
  test: string; // SET, GET, …
  round: number;
  ops_per_s: number;
  avg_us: number;
  min_us: number;
  p50_us: number;
  p95_us: number;
  p99_us: number;
  max_us: number;
}

export interface KvSettings {
  requests: number;
  clients: number;
  pipeline: number;
  data_size: number;
  keyspace: number;
  rounds: number;
  tests: string[];
}

export interface KvBenchResults {
  schema: 'mu.bench.kv/v1';
  settings: KvSettings;
  targets: {
    redis: { port: number; version: string; persistence: 'off' };
    mu: { port: number; replicas: number; fabric: 'soft'; leader: number; options: KvBenchClusterOptions };
  };
  /** Per (target, test): the median over rounds of each figure. */
  table: Omit<KvRow, 'round'>[];
  /** Mu ÷ redis-server per test (throughput: below 1 is slower; latency: above 1 is slower). */
  ratios: { test: string; ops_per_s: number; p50: number; p99: number }[];
  runs: KvRow[];
  mu_stats: { replicas: KvReplicaBenchStats[] };
  total_wall_s: number;
}

/** Parses `redis-benchmark --csv` output (redis-tools 6+: rps and latency percentiles in ms). */
export function parseRedisBenchmarkCsv(text: string, target: KvTarget, round: number): KvRow[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.startsWith('"'));
  if (lines.length === 0) throw new Error('redis-benchmark printed no CSV');
  const cells = (line: string) => line.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
  const header = cells(lines[0]!);
  if (header[0] !== 'test') throw new Error(`unexpected redis-benchmark CSV header: ${lines[0]}`);
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`redis-benchmark CSV lacks column '${name}' (redis-tools too old?)`);
    return i;
  };
  const idx = {
    rps: col('rps'), avg: col('avg_latency_ms'), min: col('min_latency_ms'), p50: col('p50_latency_ms'),
    p95: col('p95_latency_ms'), p99: col('p99_latency_ms'), max: col('max_latency_ms'),
  };
  return lines.slice(1).map((line) => {
    const c = cells(line);
    const num = (i: number) => {
      const v = Number(c[i]);
      if (!Number.isFinite(v)) throw new Error(`redis-benchmark CSV: bad number in '${line}'`);
      return v;
    };
    return {
      target, test: c[0]!, round, ops_per_s: num(idx.rps), avg_us: num(idx.avg) * 1000, min_us: num(idx.min) * 1000,
      p50_us: num(idx.p50) * 1000, p95_us: num(idx.p95) * 1000, p99_us: num(idx.p99) * 1000, max_us: num(idx.max) * 1000,
    };
  });
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? 0 : n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** Median per (target, test) over rounds, and Mu ÷ redis ratios. */
export function aggregate(runs: KvRow[]): Pick<KvBenchResults, 'table' | 'ratios'> {
  const keys = [...new Set(runs.map((r) => `${r.target}\u0000${r.test}`))];
  const table = keys.map((key) => {
    const [target, test] = key.split('\u0000') as [KvTarget, string];
    const rows = runs.filter((r) => r.target === target && r.test === test);
    const m = (f: (r: KvRow) => number) => median(rows.map(f));
    return { target, test, ops_per_s: m((r) => r.ops_per_s), avg_us: m((r) => r.avg_us), min_us: m((r) => r.min_us),
      p50_us: m((r) => r.p50_us), p95_us: m((r) => r.p95_us), p99_us: m((r) => r.p99_us), max_us: m((r) => r.max_us) };
  });
  const tests = [...new Set(runs.map((r) => r.test))];
  const ratios = tests.flatMap((test) => {
    const redis = table.find((t) => t.target === 'redis-server' && t.test === test);
    const mu = table.find((t) => t.target === 'mu' && t.test === test);
    if (!redis || !mu) return [];
    return [{ test, ops_per_s: mu.ops_per_s / redis.ops_per_s, p50: mu.p50_us / redis.p50_us, p99: mu.p99_us / redis.p99_us }];
  });
  return { table, ratios };
}

export class KvBenchError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'KvBenchError';
    this.hint = hint;
  }
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}: ${err.slice(-1000) || out.slice(-1000)}`));
    });
  });
}

// Until a replicated write through `port` succeeds (the group serves: leader elected, a quorum
// of voters known).
async function waitWritable(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = spawnSync('redis-cli', ['-p', String(port), 'SET', '__mu_bench_ready', '1'], { encoding: 'utf8' });
    last = `${r.stdout}${r.stderr}`.trim();
    if (last === 'OK') return;
    await sleep(20);
  }
  throw new KvBenchError(`the Mu leader on :${port} did not accept a write within ${timeoutMs} ms (last reply: ${last})`,
    'is the machine overloaded? try again, or with fewer --replicas');
}

export interface KvBenchOptions extends KvSettings {
  redisPort: number;
  cluster: KvBenchClusterOptions & { replicas: number; basePort: number };
  timeoutMs: number;
  progress?: (line: string) => void;
}

export interface KvBenchDeps {
  startCluster(options: KvBenchClusterOptions): Promise<KvBenchCluster>;
}

export async function runKvBench(options: KvBenchOptions, deps: KvBenchDeps): Promise<KvBenchResults> {
  const started = Date.now();
  const say = (line: string) => options.progress?.(line);
  for (const [tool, pkg] of [['redis-benchmark', 'redis-tools'], ['redis-server', 'redis-server'], ['redis-cli', 'redis-tools']]) {
    if (!onPath(tool!)) {
      throw new KvBenchError(`${tool} is not installed`, `apt-get install ${pkg} (or run hack/install-deps.sh)`);
    }
  }
  const version = /v=([0-9.]+)/.exec(spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? 'unknown';
  say(`starting redis-server ${version} on 127.0.0.1:${options.redisPort} (no persistence)`);
  const redis = spawn('redis-server', ['--port', String(options.redisPort), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--protected-mode', 'no', '--daemonize', 'no', '--logfile', ''], { stdio: 'ignore' });
  let redisExit: string | undefined;
  redis.on('exit', (code, signal) => { redisExit = `exited with ${code ?? signal}`; });
  let cluster: KvBenchCluster | undefined;
  let muStats: KvBenchResults['mu_stats'] = { replicas: [] };
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (redisExit) throw new KvBenchError(`redis-server ${redisExit}`, `is port ${options.redisPort} free? (--redis-port)`);
      const ping = spawnSync('redis-cli', ['-p', String(options.redisPort), 'ping'], { encoding: 'utf8' });
      if (ping.stdout.trim() === 'PONG') break;
      if (Date.now() > deadline) throw new KvBenchError('redis-server did not answer PING in 10 s', 'see its log: run it by hand');
      await sleep(50);
    }
    // The Mu group runs only for its own runs: its spinning leader must not take CPU from
    // redis-server's. A fresh group each time (same ports: the sockets reuse their addresses).
    const targets: KvTarget[] = ['redis-server', 'mu'];
    const runs: KvRow[] = [];
    let muPort = 0;
    let muLeader = 0;
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) {
        let port = options.redisPort;
        if (target === 'mu') {
          say(`starting ${options.cluster.replicas} Mu KV replicas over the soft fabric (ports ${options.cluster.basePort}..)`);
          cluster = await deps.startCluster(options.cluster);
          say(`Mu leader: replica ${cluster.leader} on 127.0.0.1:${cluster.leaderPort}`);
          port = muPort = cluster.leaderPort;
          muLeader = cluster.leader;
          await waitWritable(port, 10_000);
        }
        const t = { name: target, port };
        const args = ['-h', '127.0.0.1', '-p', String(t.port), '-t', options.tests.join(','), '-n', String(options.requests),
          '-c', String(options.clients), '-P', String(options.pipeline), '-d', String(options.data_size),
          '-r', String(options.keyspace), '--csv'];
        say(`round ${round + 1}/${options.rounds}: redis-benchmark against ${t.name} (${args.join(' ')})`);
        const rows = parseRedisBenchmarkCsv(await run('redis-benchmark', args, options.timeoutMs), t.name, round);
        for (const r of rows) {
          say(`  ${t.name} ${r.test}: ${r.ops_per_s.toFixed(0)} ops/s, p50 ${r.p50_us.toFixed(0)} µs, p99 ${r.p99_us.toFixed(0)} µs`);
        }
        runs.push(...rows);
        if (cluster) {
          muStats = cluster.stats();
          cluster.stop();
          cluster = undefined;
        }
      }
    }
    const { table, ratios } = aggregate(runs);
    const { basePort: _basePort, replicas: _replicas, ...clusterOptions } = options.cluster;
    return {
      schema: 'mu.bench.kv/v1',
      settings: { requests: options.requests, clients: options.clients, pipeline: options.pipeline,
        data_size: options.data_size, keyspace: options.keyspace, rounds: options.rounds, tests: options.tests },
      targets: {
        redis: { port: options.redisPort, version, persistence: 'off' },
        mu: { port: muPort, replicas: options.cluster.replicas, fabric: 'soft', leader: muLeader,
          options: clusterOptions },
      },
      table,
      ratios,
      runs,
      mu_stats: muStats,
      total_wall_s: (Date.now() - started) / 1000,
    };
  } finally {
    cluster?.stop();
    if (!redisExit) redis.kill('SIGTERM');
  }
}
