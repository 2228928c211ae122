// Leader-side instructions per replicated request, counted by callgrind (repeatable, unlike
// wall-clock figures on a shared machine). Runs the native tool mu-bench-replication in its
// engine-cost mode under valgrind, with collection switched on only inside the leader's
// propose()/poll() calls of the measured run (CALLGRIND_TOGGLE_COLLECT in bench_replication.cc):
//
//   valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=OUT \
//     native/build/mu-bench-replication --cost-only --callgrind-leader --cost-mode serial \
//     --cost-requests 20000
//
// and divides the collected total ("summary:" line of OUT) by the number of requests.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { packageRoot } from '../../node-agent/src/native/engine.js';
import type { CallgrindFigures } from './report.js';

export class CallgrindUnavailable extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'CallgrindUnavailable';
    this.hint = hint;
  }
}

/** $MU_BENCH_REPLICATION_BIN, else native/build/mu-bench-replication (hack/test-native.sh builds it). */
export function benchToolPath(): string {
  return process.env.MU_BENCH_REPLICATION_BIN ?? join(packageRoot(), 'native', 'build', 'mu-bench-replication');
}

/** The total of collected instructions in a callgrind output file. */
export function parseCallgrindTotal(text: string): number {
  const m = /^summary:\s+(\d+)/m.exec(text) ?? /^totals:\s+(\d+)/m.exec(text);
  if (!m) throw new Error('callgrind output has no summary/totals line');
  return Number(m[1]);
}

export function runCallgrind(options: { requests: number; batch: number; payloadBytes: number }): CallgrindFigures {
  const tool = benchToolPath();
  if (!existsSync(tool)) {
    throw new CallgrindUnavailable(`${tool} does not exist`,
      'build it: cmake -S native -B native/build && cmake --build native/build --target mu-bench-replication ' +
      '(or set MU_BENCH_REPLICATION_BIN)');
  }
  if (spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new CallgrindUnavailable('valgrind is not installed', 'apt-get install valgrind (hack/install-deps.sh)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'mu-callgrind-'));
  try {
    const modes: CallgrindFigures['modes'] = [];
    let command: string[] = [];
    for (const mode of ['serial', 'batched'] as const) {
      if (mode === 'batched' && options.batch <= 1) continue;
      const out = join(dir, `callgrind.${mode}.out`);
      command = ['valgrind', '--tool=callgrind', '--collect-atstart=no', `--callgrind-out-file=${out}`, tool,
        '--cost-only', '--callgrind-leader', '--cost-mode', mode, '--cost-requests', String(options.requests),
        '--cost-batch', String(options.batch), '--payload', String(options.payloadBytes)];
      const run = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20 });
      if (run.status !== 0) {
        throw new Error(`callgrind run (${mode}) failed with ${run.status ?? run.signal}: ${run.stderr.slice(-2000)}`);
      }
      const instructions = parseCallgrindTotal(readFileSync(out, 'utf8'));
      modes.push({ mode, batch: mode === 'serial' ? 1 : options.batch, requests: options.requests, instructions,
        instructions_per_request: instructions / options.requests });
    }
    return { tool, command: command.map((a) => (a.startsWith('--callgrind-out-file=') ? '--callgrind-out-file=OUT' : a)), modes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
