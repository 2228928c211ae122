// The node agent process: `npm run agent -- <flags>` from a checkout, `mu agent <flags>` from the CLI, the pod's
// command in Kubernetes (operator/src/builders/options.ts agentCommand). Exit status: 0 after a clean shutdown
// (SIGTERM/SIGINT), 1 when the replica cannot start or stops on its own, 2 for a bad setting — reported as one line
// on stderr naming the setting.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { pino } from 'pino';

import { Agent, AgentStartError } from './agent.js';
import { ConfigError, loadAgentConfig, parseAgentArgs } from './config.js';
import { agentHelpText } from './settings.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_SETTING = 2;

export interface AgentIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processIo: AgentIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** One line, whatever the error: what a person reads first in `kubectl logs --previous`. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

export async function runAgentMain(argv: readonly string[], options: {
  env?: Readonly<Record<string, string | undefined>>;
  io?: AgentIo;
  command?: string;
  /** Install SIGTERM/SIGINT handlers and wait for one (false in tests: the caller stops the agent). */
  signals?: boolean;
  onStarted?: (agent: Agent) => void;
} = {}): Promise<number> {
  const env = options.env ?? process.env;
  const io = options.io ?? processIo;
  const command = options.command ?? 'mu agent';
  let config;
  try {
    if (parseAgentArgs(argv).help) {
      io.out(agentHelpText(command));
      return EXIT_OK;
    }
    config = loadAgentConfig({ argv, env });
  } catch (e) {
    if (e instanceof ConfigError) {
      io.err(`${command}: bad setting ${oneLine(e.message)}\n`);
      return EXIT_BAD_SETTING;
    }
    throw e;
  }

  const logger = pino({
    level: config.logLevel,
    base: { replica: config.replicaId, cluster: config.cluster, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
  // A signal while the replica starts (the bootstrap exchange can wait minutes for peers): nothing to hand over yet;
  // exit at once (the addon's teardown hook stops an engine that got as far as running).
  const duringStart = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'signal during start-up: exiting');
    process.exit(EXIT_OK);
  };
  if (options.signals !== false) {
    process.once('SIGTERM', duringStart);
    process.once('SIGINT', duringStart);
  }
  let agent: Agent;
  try {
    agent = await Agent.start(config, { logger });
  } catch (e) {
    if (e instanceof ConfigError) {
      io.err(`${command}: bad setting ${oneLine(e.message)}\n`);
      return EXIT_BAD_SETTING;
    }
    const error = e as Error & { code?: string };
    const code = e instanceof AgentStartError || error.code ? `${error.code}: ` : '';
    io.err(`${command}: cannot start: ${code}${oneLine(error.message)}\n`);
    return EXIT_FAILURE;
  }
  options.onStarted?.(agent);
  if (options.signals === false) return EXIT_OK;
  process.off('SIGTERM', duringStart);
  process.off('SIGINT', duringStart);

  return new Promise<number>((resolve) => {
    let signals = 0;
    const stop = (signal: string): void => {
      if (++signals > 1) {
        logger.warn({ signal }, 'second signal: exiting at once');
        process.exit(EXIT_FAILURE);
      }
      agent.shutdown(signal).then(() => resolve(EXIT_OK), (e: Error) => {
        logger.error({ err: e }, 'shutdown failed');
        resolve(EXIT_FAILURE);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    agent.onFatal = (e) => {
      logger.error({ err: e }, 'exiting');
      agent.shutdown('engine failure').finally(() => resolve(EXIT_FAILURE));
    };
  });
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
  const status = await runAgentMain(process.argv.slice(2));
  // Everything the agent opened is closed by now; exit even if a stray handle lingers.
  process.exitCode = status;
  setTimeout(() => process.exit(status), 2000).unref();
}
