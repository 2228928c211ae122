// `mu bench failover`: time from a fault of the leader to the first commit by the new leader,
// with its breakdown, and spurious leader changes under a quiet load (DESIGN.md §7). Runs in the
// native engine (benchFailover on a worker thread).
import { resolve as resolvePath } from 'node:path';

import {
  failoverBenchDocument, formatFailoverTable, writeFailoverBenchOutputs,
} from '../../../../bench/failover/report.js';
import type { FabricName } from '../../native/engine.js';
import { type FailoverFault, loadPerfBench } from '../../native/perf-bench.js';
import { CliError, type Command } from '../command.js';

/** "30", "0.5" → seconds; throws a CliError naming the flag. */
export function parseSeconds(raw: string, path: string): number {
  const v = /^[0-9]+(\.[0-9]+)?$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(v) || v > 86_400) {
    throw new CliError('MU_CLI_BAD_FLAG', `--quiet-seconds must be a number of seconds in [0, 86400]; got '${raw}'`,
      `see '${path} --help'`, '--quiet-seconds');
  }
  return v;
}

export const benchFailoverCommand: Command = {
  name: 'failover',
  summary: 'failover time (detection, permission switch, catch-up) and spurious leader changes',
  description:
    'Each trial starts a fresh group (soft: engines in this process over soft NICs on 127.0.0.1,\n' +
    'each with its own polling thread; sim: the simulator, virtual time), waits until replica 0\n' +
    'leads under a light load, and faults it: kill = its engine is stopped and its soft NIC closed\n' +
    '(sim: the host crashes); pause = its engine thread sleeps --pause-ms inside a posted work item\n' +
    'while its NIC keeps serving (sim: the whole host freezes, NIC included). The new leader\'s\n' +
    'failover timeline gives fault → detection → election → permission switch → catch-up → first\n' +
    'commit. Then a fresh group runs the light load for --quiet-seconds with the same detector\n' +
    'settings (default: the engine\'s defaults) and every leader change is counted as spurious.\n' +
    'With --json FILE: FILE and FILE.png (one stacked bar per trial).',
  flags: [
    { name: 'fabric', kind: 'choice', choices: ['soft', 'sim'], default: 'soft', help: 'fabric backend' },
    { name: 'replicas', kind: 'int', valueName: 'N', min: 2, max: 7, default: 3, help: 'group size' },
    { name: 'trials', kind: 'int', valueName: 'N', min: 0, max: 100_000, default: 10, help: 'failovers to measure' },
    { name: 'fault', kind: 'choice', choices: ['kill', 'pause'], default: 'kill', help: 'what happens to the leader' },
    { name: 'pause-ms', kind: 'int', valueName: 'MS', min: 1, max: 60_000, default: 200, help: 'pause: how long the leader is frozen' },
    { name: 'quiet-seconds', kind: 'string', valueName: 'S', default: '30', help: 'spurious-change phase length (0: skip; virtual s on sim)' },
    { name: 'no-quiet', kind: 'boolean', help: 'skip the spurious-change phase' },
    { name: 'load', kind: 'int', valueName: 'N', min: 0, max: 1_000_000, default: 1000, help: 'proposals per second offered to the leader' },
    { name: 'read-period-us', kind: 'int', valueName: 'US', min: 1, max: 10_000_000, help: 'detector read period (default: the engine\'s, 1000)' },
    { name: 'failure-threshold', kind: 'int', valueName: 'N', min: 0, max: 1000, help: 'detector failure threshold (default 2)' },
    { name: 'recovery-threshold', kind: 'int', valueName: 'N', min: 1, max: 1000, help: 'detector recovery threshold (default 6)' },
    { name: 'score-max', kind: 'int', valueName: 'N', min: 1, max: 1000, help: 'detector score bound (default 15)' },
    { name: 'idle-sleep-us', kind: 'int', valueName: 'US', min: 0, max: 100_000, default: 0,
      help: 'soft: engines sleep this long per loop iteration (an idle strategy; 0: the engine\'s own loop)' },
    { name: 'busy-poll', kind: 'boolean', help: 'soft: engine threads spin (needs a core per engine)' },
    { name: 'base-port', kind: 'int', valueName: 'PORT', min: 1024, max: 32_000, default: 21_000, help: 'soft: first TCP port used' },
    { name: 'seed', kind: 'int', valueName: 'N', min: 0, max: Number.MAX_SAFE_INTEGER, default: 1, help: 'sim: first trial\'s seed' },
    { name: 'json', kind: 'string', valueName: 'FILE', help: 'write the results to FILE and a PNG timeline beside it' },
    { name: 'quiet', kind: 'boolean', help: 'no progress lines on stderr' },
  ],
  examples: [
    'mu bench failover --fabric soft --replicas 3 --trials 20 --json out/failover-soft.json',
    'mu bench failover --fabric soft --fault pause --trials 10 --no-quiet',
    'mu bench failover --fabric sim --trials 100 --quiet-seconds 5',
  ],
  async run({ flags, io, path }) {
    const quietSeconds = flags['no-quiet'] ? 0 : parseSeconds(flags['quiet-seconds'] as string, path);
    const engine = loadPerfBench();
    const fabric = flags.fabric as FabricName;
    io.err(`mu bench failover: engine ${engine.version()}, fabric ${fabric}, fault ${flags.fault}\n`);
    const optional = (flag: string, option: string) =>
      (flags[flag] !== undefined ? { [option]: flags[flag] as number } : {});
    const results = await engine.benchFailover({
      fabric,
      replicas: flags.replicas as number,
      trials: flags.trials as number,
      fault: flags.fault as FailoverFault,
      pauseMs: flags['pause-ms'] as number,
      quietSeconds,
      loadPerSecond: flags.load as number,
      idleSleepMicros: flags['idle-sleep-us'] as number,
      busyPoll: flags['busy-poll'] as boolean,
      basePort: flags['base-port'] as number,
      seed: flags.seed as number,
      ...optional('read-period-us', 'readPeriodMicros'),
      ...optional('failure-threshold', 'failureThreshold'),
      ...optional('recovery-threshold', 'recoveryThreshold'),
      ...optional('score-max', 'scoreMax'),
      onProgress: flags.quiet ? undefined : (line) => io.err(`  ${line}\n`),
    });
    io.out(formatFailoverTable(results));
    const jsonPath = flags.json as string | undefined;
    if (jsonPath !== undefined) {
      const written = writeFailoverBenchOutputs(failoverBenchDocument(results, engine.version()), resolvePath(jsonPath));
      io.out(`\nwrote ${written.json}\n${written.pngs.map((p) => `wrote ${p}\n`).join('')}`);
    }
    return 0;
  },
};
