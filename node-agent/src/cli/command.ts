// A small command tree for the `mu` CLI: groups (`mu bench`) hold subcommands, leaves
// (`mu bench fabric`) declare typed flags and run. Parsing is strict: an unknown command, an
// unknown flag, a missing or malformed value is a CliError naming the command and the flag.
import { closest } from '../text/closest.js';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

interface FlagBase {
  name: string; // without the leading dashes
  help: string;
}
export type FlagSpec =
  | (FlagBase & { kind: 'string'; valueName: string; default?: string })
  | (FlagBase & { kind: 'choice'; choices: readonly string[]; default: string })
  | (FlagBase & { kind: 'int'; valueName: string; min: number; max: number; default?: number })
  | (FlagBase & { kind: 'boolean' });

export type FlagValues = Record<string, string | number | boolean | undefined>;

export interface CommandContext {
  flags: FlagValues;
  io: CliIo;
  path: string; // e.g. "mu bench fabric"
  /** The arguments after the command's name, untouched (commands with passthrough: their own parser). */
  args: readonly string[];
}

export interface Command {
  name: string;
  summary: string;
  description?: string;
  subcommands?: Command[];
  flags?: FlagSpec[];
  examples?: string[];
  /** The command parses its own arguments (and --help): `mu agent`, whose settings are also env/file driven. */
  passthrough?: boolean;
  run?: (ctx: CommandContext) => Promise<number>;
}

export type CliErrorCode = 'MU_CLI_UNKNOWN_COMMAND' | 'MU_CLI_MISSING_COMMAND' | 'MU_CLI_BAD_FLAG' |
  'MU_CLI_UNEXPECTED_ARGUMENT';

/** A usage error: exit status 2, message and hint for a person. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  readonly hint: string;
  readonly flag?: string;
  constructor(code: CliErrorCode, message: string, hint: string, flag?: string) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.hint = hint;
    this.flag = flag;
  }
}

export type Resolution =
  | { kind: 'run'; command: Command; path: string; flags: FlagValues; args: readonly string[] }
  | { kind: 'help'; command: Command; path: string };

function isHelp(arg: string): boolean {
  return arg === '--help' || arg === '-h';
}


function parseFlagValue(spec: FlagSpec, raw: string, path: string): string | number {
  const flag = `--${spec.name}`;
  const help = `see '${path} --help'`;
  switch (spec.kind) {
    case 'string':
      if (raw === '') throw new CliError('MU_CLI_BAD_FLAG', `${flag} needs a non-empty ${spec.valueName}`, help, flag);
      return raw;
    case 'choice':
      if (!spec.choices.includes(raw)) {
        throw new CliError('MU_CLI_BAD_FLAG', `${flag} must be one of ${spec.choices.join(', ')}; got '${raw}'`,
          help, flag);
      }
      return raw;
    case 'int': {
      const value = /^-?[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isSafeInteger(value) || value < spec.min || value > spec.max) {
        throw new CliError('MU_CLI_BAD_FLAG',
          `${flag} must be an integer in [${spec.min}, ${spec.max}]; got '${raw}'`, help, flag);
      }
      return value;
    }
    case 'boolean':
      throw new Error('unreachable: boolean flags take no value');
  }
}

function parseFlags(command: Command, path: string, args: string[]): FlagValues | 'help' {
  const specs = command.flags ?? [];
  const values: FlagValues = {};
  for (const spec of specs) {
    if (spec.kind !== 'boolean' && spec.default !== undefined) values[spec.name] = spec.default;
    if (spec.kind === 'boolean') values[spec.name] = false;
  }
  const help = `see '${path} --help'`;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (isHelp(arg)) return 'help';
    if (!arg.startsWith('--')) {
      throw new CliError('MU_CLI_UNEXPECTED_ARGUMENT', `'${path}' takes no argument '${arg}'`, help);
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = specs.find((s) => s.name === name);
    if (!spec) {
      const guess = closest(name, specs.map((s) => s.name));
      throw new CliError('MU_CLI_BAD_FLAG', `unknown flag --${name} for '${path}'`,
        guess ? `did you mean --${guess}? ${help}` : help, `--${name}`);
    }
    if (spec.kind === 'boolean') {
      if (eq !== -1) throw new CliError('MU_CLI_BAD_FLAG', `--${name} takes no value`, help, `--${name}`);
      values[name] = true;
      continue;
    }
    let raw: string;
    if (eq !== -1) {
      raw = arg.slice(eq + 1);
    } else {
      const next = args[i + 1];
      if (next === undefined || next.startsWith('--')) {
        const what = spec.kind === 'choice' ? spec.choices.join('|') : spec.valueName;
        throw new CliError('MU_CLI_BAD_FLAG', `--${name} needs a value (${what})`, help, `--${name}`);
      }
      raw = next;
      i++;
    }
    values[name] = parseFlagValue(spec, raw, path);
  }
  return values;
}

/** Walks argv down the command tree to a leaf and parses its flags, or to a help request. */
export function resolve(root: Command, argv: readonly string[]): Resolution {
  let command = root;
  let path = root.name;
  let i = 0;
  while (command.subcommands) {
    const arg = argv[i];
    if (arg === undefined || isHelp(arg)) {
      if (arg === undefined && command !== root) {
        throw new CliError('MU_CLI_MISSING_COMMAND', `'${path}' needs a command: ${names(command)}`,
          `see '${path} --help'`);
      }
      return { kind: 'help', command, path };
    }
    if (arg.startsWith('-')) {
      throw new CliError('MU_CLI_BAD_FLAG', `unknown flag ${arg} for '${path}' (flags go after the command)`,
        `see '${path} --help'`, arg);
    }
    const next = command.subcommands.find((c) => c.name === arg);
    if (!next) {
      const guess = closest(arg, command.subcommands.map((c) => c.name));
      throw new CliError('MU_CLI_UNKNOWN_COMMAND', `unknown command '${arg}' for '${path}'`,
        `${guess ? `did you mean '${path} ${guess}'? ` : ''}commands: ${names(command)}`);
    }
    command = next;
    path = `${path} ${next.name}`;
    i++;
  }
  if (command.passthrough) return { kind: 'run', command, path, flags: {}, args: argv.slice(i) };
  const flags = parseFlags(command, path, argv.slice(i));
  if (flags === 'help') return { kind: 'help', command, path };
  return { kind: 'run', command, path, flags, args: argv.slice(i) };
}

function names(command: Command): string {
  return (command.subcommands ?? []).map((c) => c.name).join(', ');
}

function flagUsage(spec: FlagSpec): string {
  switch (spec.kind) {
    case 'boolean': return `--${spec.name}`;
    case 'choice': return `--${spec.name} ${spec.choices.join('|')}`;
    default: return `--${spec.name} ${spec.valueName}`;
  }
}

/** The --help text of a command: usage, description, subcommands or flags, examples. */
export function helpText(command: Command, path: string): string {
  const lines: string[] = [];
  if (command.subcommands) {
    lines.push(`usage: ${path} <command> [flags]`, '', command.description ?? command.summary, '', 'commands:');
    const width = Math.max(...command.subcommands.map((c) => c.name.length));
    for (const c of command.subcommands) lines.push(`  ${c.name.padEnd(width)}  ${c.summary}`);
    lines.push('', `Run '${path} <command> --help' for a command's flags.`);
  } else {
    const flags = command.flags ?? [];
    const usage = flags.map((f) => `[${flagUsage(f)}]`).join(' ');
    lines.push(`usage: ${path}${usage ? ` ${usage}` : ''}`, '', command.description ?? command.summary);
    if (flags.length > 0) {
      lines.push('', 'flags:');
      const width = Math.max(...flags.map((f) => flagUsage(f).length));
      for (const f of flags) {
        const fallback = f.kind !== 'boolean' && f.default !== undefined ? ` (default ${f.default})` : '';
        lines.push(`  ${flagUsage(f).padEnd(width)}  ${f.help}${fallback}`);
      }
      lines.push(`  ${'--help'.padEnd(width)}  this text`);
    }
  }
  if (command.examples && command.examples.length > 0) {
    lines.push('', 'examples:', ...command.examples.map((e) => `  ${e}`));
  }
  return `${lines.join('\n')}\n`;
}
