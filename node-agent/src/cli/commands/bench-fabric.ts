// `mu bench fabric`: the one-sided WRITE round trip and permission-change cost of a fabric
// backend — the floor replication is measured against (DESIGN.md §7). Runs in the native engine
// (benchFabric on a worker thread); this command presents the results.
import { resolve as resolvePath } from 'node:path';

import {
  fabricBenchDocument, formatFabricTable, writeFabricBenchOutputs,
} from '../../../../bench/fabric/report.js';
import { type FabricName, loadEngine } from '../../native/engine.js';
import type { Command } from '../command.js';

const MAX_ITERATIONS = 10_000_000; // FabricBenchConfig::kMaxIterations

export const benchFabricCommand: Command = {
  name: 'fabric',
  summary: 'one-sided WRITE round trip and permission-change cost of a fabric',
  description:
    'Measures signaled one-sided RDMA WRITE round trips (post → completion) at 64 B and over\n' +
    'a payload sweep 8 B..4 KiB (p50/p99/mean), and the cost of a permission change on the\n' +
    'responder: fast path (QP access flags in RTS) and slow path (QP cycled through RESET).\n' +
    'soft: two soft NICs over TCP on 127.0.0.1, wall-clock time. sim: the deterministic\n' +
    'simulator, whose latencies are virtual time (its own cost per op is shown beside them).\n' +
    'With --json FILE, writes the results to FILE and a latency plot to FILE with .png.',
  flags: [
    { name: 'fabric', kind: 'choice', choices: ['soft', 'sim'], default: 'soft', help: 'fabric backend' },
    { name: 'iters', kind: 'int', valueName: 'N', min: 1, max: MAX_ITERATIONS, default: 10_000,
      help: 'timed WRITEs per payload size' },
    { name: 'warmup', kind: 'int', valueName: 'N', min: 0, max: MAX_ITERATIONS, default: 1_000,
      help: 'untimed WRITEs before each size' },
    { name: 'perm-iters', kind: 'int', valueName: 'N', min: 0, max: MAX_ITERATIONS, default: 200,
      help: 'timed permission changes per mechanism' },
    { name: 'seed', kind: 'int', valueName: 'N', min: 0, max: Number.MAX_SAFE_INTEGER, default: 1,
      help: 'sim: the simulated world\'s seed' },
    { name: 'busy-poll', kind: 'boolean', help: 'soft: NIC threads spin instead of blocking (needs a free core per NIC thread)' },
    { name: 'json', kind: 'string', valueName: 'FILE', help: 'write results as JSON to FILE and a PNG plot beside it' },
    { name: 'quiet', kind: 'boolean', help: 'no progress lines on stderr' },
  ],
  examples: [
    'mu bench fabric --fabric soft --json out/fabric-soft.json',
    'mu bench fabric --fabric sim --iters 2000',
  ],
  async run({ flags, io }) {
    const engine = loadEngine();
    const fabric = flags.fabric as FabricName;
    io.err(`mu bench fabric: engine ${engine.version()}, fabric ${fabric}\n`);
    const results = await engine.benchFabric({
      fabric,
      iterations: flags.iters as number,
      warmupIterations: flags.warmup as number,
      permissionIterations: flags['perm-iters'] as number,
      seed: flags.seed as number,
      busyPoll: flags['busy-poll'] as boolean,
      onProgress: flags.quiet ? undefined : (line) => io.err(`  ${line}\n`),
    });
    io.out(formatFabricTable(results));
    const jsonPath = flags.json as string | undefined;
    if (jsonPath !== undefined) {
      const written = writeFabricBenchOutputs(fabricBenchDocument(results, engine.version()), resolvePath(jsonPath));
      io.out(`\nwrote ${written.json}\nwrote ${written.png}\n`);
    }
    return 0;
  },
};
