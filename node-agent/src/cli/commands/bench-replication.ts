// `mu bench replication`: propose latency on the leader against the fabric's WRITE floor,
// throughput with several outstanding requests, and the engine's CPU cost per request
// (DESIGN.md §7). Runs in the native engine (benchReplication on a worker thread).
import { resolve as resolvePath } from 'node:path';

import { CallgrindUnavailable, runCallgrind } from '../../../../bench/replication/callgrind.js';
import {
  type CallgrindFigures, formatReplicationTable, replicationBenchDocument, writeReplicationBenchOutputs,
} from '../../../../bench/replication/report.js';
import type { FabricName } from '../../native/engine.js';
import { loadPerfBench } from '../../native/perf-bench.js';
import { CliError, type Command } from '../command.js';

const MAX_ITERATIONS = 10_000_000; // ReplicationBenchConfig::kMaxIterations

/** "1,4,16" → [1, 4, 16]; "" or "0" → []. Throws a CliError naming the flag. */
export function parseWindows(raw: string, path: string): number[] {
  if (raw.trim() === '' || raw.trim() === '0') return [];
  return raw.split(',').map((item) => {
    const v = /^[0-9]+$/.test(item.trim()) ? Number(item.trim()) : Number.NaN;
    if (!Number.isSafeInteger(v) || v < 1 || v > 4096) {
      throw new CliError('MU_CLI_BAD_FLAG', `--windows must be a comma-separated list of integers in [1, 4096]; got '${raw}'`,
        `see '${path} --help'`, '--windows');
    }
    return v;
  });
}

export const benchReplicationCommand: Command = {
  name: 'replication',
  summary: 'propose latency vs payload against the WRITE floor, throughput, engine ns/request',
  description:
    'A group of --replicas replicas in this process (soft: soft NICs on 127.0.0.1; sim: the\n' +
    'simulator), replica 0 leading. One thread proposes on the leader and polls every replica;\n' +
    'latency = propose → the leader applies the request (decided by a majority), on the leader\n' +
    'device\'s clock, one proposal outstanding. The fabric\'s one-sided WRITE round trip (the floor,\n' +
    '`mu bench fabric`) is measured in the same run, interleaved in rounds; ratio_p50 = p50 / floor p50.\n' +
    'Then throughput with --windows outstanding requests (batched into entries, entries pipelined),\n' +
    'and the engine\'s CPU cost per request over the sim fabric (ns; --callgrind adds instructions).\n' +
    'With --json FILE: FILE, FILE.png (latency vs payload) and FILE-throughput.png.',
  flags: [
    { name: 'fabric', kind: 'choice', choices: ['soft', 'sim'], default: 'soft', help: 'fabric backend' },
    { name: 'replicas', kind: 'int', valueName: 'N', min: 1, max: 7, default: 3, help: 'group size' },
    { name: 'payload', kind: 'int', valueName: 'BYTES', min: 1, max: 65536, default: 64, help: 'headline payload size' },
    { name: 'sweep', kind: 'boolean', help: 'also 8 B..4 KiB (the paper\'s Figure 3 shape)' },
    { name: 'iters', kind: 'int', valueName: 'N', min: 1, max: MAX_ITERATIONS, default: 10_000, help: 'timed proposals per payload size' },
    { name: 'warmup', kind: 'int', valueName: 'N', min: 0, max: MAX_ITERATIONS, default: 1_000, help: 'untimed proposals first' },
    { name: 'rounds', kind: 'int', valueName: 'N', min: 1, max: 1000, default: 4, help: 'floor/replication alternations' },
    { name: 'no-floor', kind: 'boolean', help: 'skip the WRITE floor' },
    { name: 'windows', kind: 'string', valueName: 'LIST', default: '1,4,16,64', help: 'throughput: outstanding requests per run ("0": none)' },
    { name: 'tput-requests', kind: 'int', valueName: 'N', min: 0, max: MAX_ITERATIONS, default: 20_000, help: 'requests per throughput run' },
    { name: 'cost-requests', kind: 'int', valueName: 'N', min: 0, max: MAX_ITERATIONS, default: 100_000, help: 'engine-cost requests per mode (0: skip)' },
    { name: 'cost-batch', kind: 'int', valueName: 'N', min: 1, max: 1024, default: 8, help: 'engine cost, batched mode: requests per leader poll' },
    { name: 'callgrind', kind: 'boolean', help: 'count leader instructions per request with valgrind (needs native/build/mu-bench-replication)' },
    { name: 'callgrind-requests', kind: 'int', valueName: 'N', min: 100, max: 1_000_000, default: 20_000, help: 'requests per callgrind run' },
    { name: 'nic-cpu', kind: 'int', valueName: 'CPU', min: 0, max: 1023, help: 'soft: run every soft-NIC thread on this CPU' },
    { name: 'poll-cpu', kind: 'int', valueName: 'CPU', min: 0, max: 1023, help: 'soft: run the polling thread on this CPU' },
    { name: 'busy-poll', kind: 'boolean', help: 'soft: NIC threads spin (needs a free core per NIC thread)' },
    { name: 'seed', kind: 'int', valueName: 'N', min: 0, max: Number.MAX_SAFE_INTEGER, default: 1, help: 'sim: the world\'s seed' },
    { name: 'json', kind: 'string', valueName: 'FILE', help: 'write the results to FILE and PNG plots beside it' },
    { name: 'quiet', kind: 'boolean', help: 'no progress lines on stderr' },
  ],
  examples: [
    'mu bench replication --fabric soft --replicas 3 --payload 64 --json out/replication-soft.json',
    'mu bench replication --fabric soft --sweep --nic-cpu 0 --poll-cpu 0 --json out/replication-sweep.json',
    'mu bench replication --fabric sim --callgrind --json out/replication-sim.json',
  ],
  async run({ flags, io, path }) {
    const windows = parseWindows(flags.windows as string, path);
    const iterations = flags.iters as number;
    const engine = loadPerfBench();
    const fabric = flags.fabric as FabricName;
    io.err(`mu bench replication: engine ${engine.version()}, fabric ${fabric}, ${flags.replicas} replicas\n`);
    const results = await engine.benchReplication({
      fabric,
      replicas: flags.replicas as number,
      payloadBytes: flags.payload as number,
      sweep: flags.sweep as boolean,
      iterations,
      warmupIterations: flags.warmup as number,
      rounds: Math.min(flags.rounds as number, iterations),
      floor: !(flags['no-floor'] as boolean),
      windows,
      throughputRequests: flags['tput-requests'] as number,
      costRequests: flags['cost-requests'] as number,
      costBatch: flags['cost-batch'] as number,
      busyPoll: flags['busy-poll'] as boolean,
      seed: flags.seed as number,
      ...(flags['nic-cpu'] !== undefined ? { nicCpu: flags['nic-cpu'] as number } : {}),
      ...(flags['poll-cpu'] !== undefined ? { pollCpu: flags['poll-cpu'] as number } : {}),
      onProgress: flags.quiet ? undefined : (line) => io.err(`  ${line}\n`),
    });
    let callgrind: CallgrindFigures | undefined;
    if (flags.callgrind) {
      if (!flags.quiet) io.err('  callgrind: counting leader instructions per request (serial and batched)\n');
      try {
        callgrind = runCallgrind({ requests: flags['callgrind-requests'] as number, batch: flags['cost-batch'] as number,
          payloadBytes: flags.payload as number });
      } catch (error) {
        if (!(error instanceof CallgrindUnavailable)) throw error;
        io.err(`mu bench replication: --callgrind skipped: ${error.message}\n  hint: ${error.hint}\n`);
      }
    }
    io.out(formatReplicationTable(results, callgrind));
    const jsonPath = flags.json as string | undefined;
    if (jsonPath !== undefined) {
      const written = writeReplicationBenchOutputs(replicationBenchDocument(results, engine.version(), callgrind),
        resolvePath(jsonPath));
      io.out(`\nwrote ${written.json}\n${written.pngs.map((p) => `wrote ${p}\n`).join('')}`);
    }
    return 0;
  },
};
