// `mu bench kv`: redis-benchmark SET/GET through the Mu leader vs. a plain redis-server on the
// same machine, in the same run (DESIGN.md §7). The Mu side is N KvReplicas over the soft fabric
// in this process (startKvBenchCluster); redis-benchmark and redis-server are Debian's.
import { resolve as resolvePath } from 'node:path';

import { formatKvTable, kvBenchDocument, writeKvBenchOutputs } from '../../../../bench/kv/report.js';
import { KvBenchError, runKvBench } from '../../../../bench/kv/run.js';
import { loadPerfBench } from '../../native/perf-bench.js';
import { CliError, type Command } from '../command.js';

const TESTS = new Set(['set', 'get', 'incr', 'ping_inline', 'ping_mbulk', 'mset']);

export function parseTests(raw: string, path: string): string[] {
  const tests = raw.split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== '');
  const bad = tests.find((t) => !TESTS.has(t));
  if (tests.length === 0 || bad !== undefined) {
    throw new CliError('MU_CLI_BAD_FLAG', `--tests must be a comma-separated list of ${[...TESTS].join(', ')}; got '${raw}'`,
      `see '${path} --help'`, '--tests');
  }
  return tests;
}

export const benchKvCommand: Command = {
  name: 'kv',
  summary: 'redis-benchmark SET/GET through the Mu leader vs. a plain redis-server',
  description:
    'Starts a plain redis-server (no persistence) and --replicas Mu KV replicas (engine + KV state\n' +
    'machine + RESP front end, over the soft fabric on 127.0.0.1, replica 0 leading) in this\n' +
    'process, then runs redis-benchmark against each, alternating which goes first per round,\n' +
    'and reports ops/s and p50/p95/p99 per command (the median over rounds) and Mu ÷ redis.\n' +
    'Every Mu command — reads too — goes through the replicated log. Ports stay below 32768.\n' +
    'With --json FILE: FILE, FILE.png (throughput) and FILE-latency.png.',
  flags: [
    { name: 'replicas', kind: 'int', valueName: 'N', min: 1, max: 7, default: 3, help: 'Mu group size' },
    { name: 'requests', kind: 'int', valueName: 'N', min: 1, max: 100_000_000, default: 100_000, help: 'redis-benchmark -n' },
    { name: 'clients', kind: 'int', valueName: 'N', min: 1, max: 10_000, default: 50, help: 'redis-benchmark -c' },
    { name: 'pipeline', kind: 'int', valueName: 'N', min: 1, max: 1000, default: 1, help: 'redis-benchmark -P' },
    { name: 'data-size', kind: 'int', valueName: 'BYTES', min: 1, max: 1_048_576, default: 64, help: 'redis-benchmark -d' },
    { name: 'keyspace', kind: 'int', valueName: 'N', min: 1, max: 100_000_000, default: 100_000, help: 'redis-benchmark -r' },
    { name: 'tests', kind: 'string', valueName: 'LIST', default: 'set,get', help: 'redis-benchmark -t' },
    { name: 'rounds', kind: 'int', valueName: 'N', min: 1, max: 100, default: 2, help: 'alternating runs per target' },
    { name: 'base-port', kind: 'int', valueName: 'PORT', min: 1024, max: 32_700, default: 23_000, help: 'Mu replicas: 3 ports each from here' },
    { name: 'redis-port', kind: 'int', valueName: 'PORT', min: 1024, max: 32_767, default: 22_999, help: 'the plain redis-server' },
    { name: 'follower-idle-sleep-us', kind: 'int', valueName: 'US', min: 0, max: 100_000, default: 100,
      help: 'followers\' engine threads sleep per iteration (they do no fast-path work)' },
    { name: 'read-period-us', kind: 'int', valueName: 'US', min: 1, max: 10_000_000, default: 20_000,
      help: 'failure detector read period of the Mu replicas (engine default 1000; see mu bench failover)' },
    { name: 'leader-yield', kind: 'boolean', help: 'the leader\'s engine thread yields when idle instead of spinning' },
    { name: 'timeout', kind: 'int', valueName: 'S', min: 1, max: 86_400, default: 600, help: 'per redis-benchmark run' },
    { name: 'json', kind: 'string', valueName: 'FILE', help: 'write the results to FILE and PNG charts beside it' },
    { name: 'quiet', kind: 'boolean', help: 'no progress lines on stderr' },
  ],
  examples: [
    'mu bench kv --json out/kv.json',
    'mu bench kv --requests 20000 --clients 10 --pipeline 16 --rounds 3',
  ],
  async run({ flags, io, path }) {
    const tests = parseTests(flags.tests as string, path);
    const replicas = flags.replicas as number;
    const basePort = flags['base-port'] as number;
    const redisPort = flags['redis-port'] as number;
    if (basePort + 3 * replicas > 32_767) {
      throw new CliError('MU_CLI_BAD_FLAG', `--base-port ${basePort} leaves no room for ${replicas} replicas below 32768`,
        `see '${path} --help'`, '--base-port');
    }
    if (redisPort >= basePort && redisPort < basePort + 3 * replicas) {
      throw new CliError('MU_CLI_BAD_FLAG', `--redis-port ${redisPort} collides with the Mu replicas' ports ` +
        `${basePort}..${basePort + 3 * replicas - 1}`, `see '${path} --help'`, '--redis-port');
    }
    const engine = loadPerfBench();
    io.err(`mu bench kv: engine ${engine.version()}\n`);
    let results;
    try {
      results = await runKvBench({
        requests: flags.requests as number,
        clients: flags.clients as number,
        pipeline: flags.pipeline as number,
        data_size: flags['data-size'] as number,
        keyspace: flags.keyspace as number,
        rounds: flags.rounds as number,
        tests,
        redisPort,
        cluster: {
          replicas, basePort,
          leaderBusyPoll: !(flags['leader-yield'] as boolean),
          followerIdleSleepMicros: flags['follower-idle-sleep-us'] as number,
          detectorReadPeriodMicros: flags['read-period-us'] as number,
          maxValueBytes: Math.max(64 * 1024, flags['data-size'] as number),
        },
        timeoutMs: (flags.timeout as number) * 1000,
        progress: flags.quiet ? undefined : (line) => io.err(`  ${line}\n`),
      }, { startCluster: (o) => engine.startKvBenchCluster(o) });
    } catch (error) {
      if (error instanceof KvBenchError) {
        io.err(`mu: error: ${error.message}\n  hint: ${error.hint}\n`);
        return 1;
      }
      throw error;
    }
    io.out(formatKvTable(results));
    const jsonPath = flags.json as string | undefined;
    if (jsonPath !== undefined) {
      const written = writeKvBenchOutputs(kvBenchDocument(results, engine.version()), resolvePath(jsonPath));
      io.out(`\nwrote ${written.json}\n${written.pngs.map((p) => `wrote ${p}\n`).join('')}`);
    }
    return 0;
  },
};
