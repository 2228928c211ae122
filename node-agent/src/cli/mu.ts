// The `mu` command line: `npm run mu -- <command> …` from a checkout, `mu <command> …` when the
// package is installed (bin/mu.js). Commands form a tree (command.ts); add new ones to `root`.
//
// Exit status: 0 success, 1 the command failed, 2 a usage error (unknown command or flag, bad value).
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { type CliIo, CliError, type Command, helpText, resolve } from './command.js';
import { agentCommand } from './commands/agent.js';
import { benchFabricCommand } from './commands/bench-fabric.js';
import { benchFailoverCommand } from './commands/bench-failover.js';
import { benchKvCommand } from './commands/bench-kv.js';
import { benchReplicationCommand } from './commands/bench-replication.js';
import { localCommand } from './commands/local.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export const root: Command = {
  name: 'mu',
  summary: 'Mu on Kubernetes: microsecond state machine replication over one-sided RDMA',
  description:
    'mu — Mu on Kubernetes: microsecond state machine replication over one-sided RDMA.\n' +
    'Run a replica with its node agent, a local cluster of them, and benchmarks of the native engine.',
  subcommands: [
    agentCommand,
    localCommand,
    {
      name: 'bench',
      summary: 'benchmarks (JSON + PNG results)',
      description: 'Benchmarks of the engine and its fabrics; results as a table, JSON and a PNG plot.',
      subcommands: [benchFabricCommand, benchReplicationCommand, benchFailoverCommand, benchKvCommand],
    },
  ],
};

const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Runs one command line; returns the exit status. Never throws. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  try {
    const resolution = resolve(root, argv);
    if (resolution.kind === 'help') {
      io.out(helpText(resolution.command, resolution.path));
      return EXIT_OK;
    }
    return await resolution.command.run!({ flags: resolution.flags, io, path: resolution.path, args: resolution.args });
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`mu: ${error.message}\n  hint: ${error.hint}\n`);
      return EXIT_USAGE;
    }
    const e = error as Error & { code?: string; hint?: string };
    io.err(`mu: error${e.code ? ` [${e.code}]` : ''}: ${e.message ?? String(error)}\n`);
    if (e.hint) io.err(`  hint: ${e.hint}\n`);
    return EXIT_FAILURE;
  }
}

function invokedDirectly(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  process.exitCode = await main(process.argv.slice(2));
}
