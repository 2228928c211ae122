// The node agent process: `npm run agent -- <flags>` from a checkout, `mu agent <flags>` from the CLI, the pod's
// command in Kubernetes (operator/src/builders/options.ts agentCommand). Exit status: 0 after a clean shutdown
// (SIGTERM/SIGINT), 1 when the replica cannot start or stops on its own, 2 for a bad setting — reported as one line
// on stderr naming the setting.
import { realpathSync, writeFileSync } from 'node:fs';
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

/** Kubernetes keeps at most this much of a termination message. */
const TERMINATION_MESSAGE_LIMIT = 4096;

/**
 * Where the exit reason goes for the operator (pod status containerStatuses[].state.terminated.message), read from
 * the raw flag or variable so that even a bad setting elsewhere is reported there.
 */
function terminationMessagePath(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): string | undefined {
  let fromFlag: string | undefined;
  try {
    const parsed = parseAgentArgs(argv);
    if (!parsed.help) fromFlag = parsed.flags.get('termination-message-path');
  } catch {
    // the bad argument is reported on stderr; fall back to the variable
  }
  const p = fromFlag ?? env.MU_TERMINATION_MESSAGE_PATH;
  return p && p.trim() !== '' ? p : undefined;
}

/** "<Code>: <message>", one line, bounded (messages that already start with their code keep one copy of it). */
export function terminationMessageText(code: string, message: string): string {
  const line = oneLine(message);
  return (line.startsWith(`${code}: `) ? line : `${code}: ${line}`).slice(0, TERMINATION_MESSAGE_LIMIT);
}

/** A failure to write the termination message must not hide the error itself. */
function writeTerminationMessage(file: string | undefined, code: string, message: string, io: AgentIo): void {
  if (!file) return;
  const text = terminationMessageText(code, message);
  try {
    writeFileSync(file, text);
  } catch (e) {
    io.err(`mu agent: could not write the termination message to ${file}: ${(e as Error).message}\n`);
  }
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
  const terminationFile = terminationMessagePath(argv, env);
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
      writeTerminationMessage(terminationFile, 'BadSetting', e.message, io);
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
      writeTerminationMessage(terminationFile, 'BadSetting', e.message, io);
      return EXIT_BAD_SETTING;
    }
    const error = e as Error & { code?: string };
    const code = e instanceof AgentStartError || error.code ? `${error.code}: ` : '';
    const said = oneLine(error.message);
    io.err(`${command}: cannot start: ${said.startsWith(code) ? said : `${code}${said}`}\n`);
    writeTerminationMessage(terminationFile, error.code ?? 'StartFailed', error.message, io);
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
      writeTerminationMessage(terminationFile, (e as Error & { code?: string }).code ?? 'EngineFailed', e.message, io);
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
