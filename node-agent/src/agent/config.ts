// The agent's configuration: flags, then environment, then the mounted cluster.json (the operator's ConfigMap,
// operator/src/builders/cluster-config.ts), then defaults — validated with zod (settings.ts holds the table). Every
// problem is a ConfigError naming the setting as the user gave it (--flag, MU_VARIABLE or the cluster.json field)
// and what is wrong, in one line.
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';

import { z } from 'zod';

import type { ClusterConfig } from '../../../operator/src/builders/cluster-config.js';
import { intSchema, MAX_REPLICAS, SETTINGS, type Setting } from './settings.js';
import { closest } from '../text/closest.js';

export class ConfigError extends Error {
  readonly code = 'MU_AGENT_BAD_SETTING';
  /** The setting as the user gave it: "--replica-id", "MU_LOG_SIZE_BYTES", "cluster.json members[1].respPort". */
  readonly setting: string;
  readonly problem: string;
  constructor(setting: string, problem: string) {
    super(`${setting}: ${problem}`);
    this.name = 'ConfigError';
    this.setting = setting;
    this.problem = problem;
  }
}

export interface MemberConfig {
  id: number;
  name?: string;
  /** As written in cluster.json (a DNS name or an IPv4 address); resolved at start-up. */
  host: string;
  respPort: number;
  agentPort: number;
  fabricPort: number;
  /** Connection setup (QP exchange). Not in cluster.json version 1: fabricPort + 1 unless given. */
  bootstrapPort: number;
}

export type FabricChoice = 'soft' | 'verbs' | 'auto';
export type PermissionMechanismSetting = 'accessFlags' | 'qpCycle' | 'mrReregister';

export interface EngineSettings {
  logSizeBytes: number;
  maxRequestBytes: number;
  heartbeatPeriodMicros: number;
  scoreMax: number;
  failureThreshold: number;
  recoveryThreshold: number;
  stuckReplicationTimeoutMicros: number;
  brokenConnectionTimeoutMicros: number;
  permissionSwitchMechanism: PermissionMechanismSetting;
  maxBatchRequests: number;
  maxBatchBytes: number;
  maxOutstandingProposals: number;
}

export interface RdmaSettings {
  device?: string;
  netdev?: string;
  port: number;
  linkLayer: 'auto' | 'InfiniBand' | 'Ethernet';
  gidIndex: 'auto' | number;
}

export interface AgentConfig {
  replicaId: number;
  configPath: string;
  cluster: string;
  namespace: string;
  members: MemberConfig[];
  self: MemberConfig;
  fabricKey: Buffer;
  bootstrap: boolean;
  podIP?: string;
  httpHost: string;
  httpPort: number;
  respBind: string;
  statusToken?: string;
  fabric: FabricChoice;
  rdma: RdmaSettings;
  sysfsRoot: string;
  netns?: string;
  engine: EngineSettings;
  busyPoll: 'auto' | boolean;
  bootstrapTimeoutSeconds: number;
  handoverTimeoutMs: number;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  pod: { name?: string; namespace?: string; nodeName?: string; hugepagesDirs?: string[] };
  /** Where each setting's value came from: "flag", "env", "file" or "default". */
  sources: Record<string, 'flag' | 'env' | 'file' | 'default'>;
  /** Each setting as the user gave it, for messages: "--fabric", "MU_FABRIC", "cluster.json fabric". */
  labels: Record<string, string>;
}

export interface ConfigInputs {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /** Injected for tests; reads a whole file. */
  readFile?: (path: string) => Buffer;
}

export type ParsedArgs = { help: true } | { help: false; flags: Map<string, string> };

const BY_FLAG = new Map(SETTINGS.map((s) => [s.flag, s]));

/** Splits argv into flag values. --name=value, --name value, and bare boolean flags (--bootstrap). */
export function parseAgentArgs(argv: readonly string[]): ParsedArgs {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { help: true };
    if (!arg.startsWith('--')) throw new ConfigError(arg, 'unexpected argument (settings are --flags; see --help)');
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const setting = BY_FLAG.get(name);
    if (!setting) {
      const guess = closest(name, [...BY_FLAG.keys()]);
      throw new ConfigError(`--${name}`, `unknown setting${guess ? ` (did you mean --${guess}?)` : ''}; see --help`);
    }
    if (flags.has(name)) throw new ConfigError(`--${name}`, 'given more than once');
    let value: string;
    if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else if (setting.bare) {
      const next = argv[i + 1];
      if (next !== undefined && /^(true|false)$/i.test(next)) {
        value = next;
        i++;
      } else {
        value = 'true';
      }
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new ConfigError(`--${name}`, `needs a value (${setting.valueName})`);
      value = next;
      i++;
    }
    flags.set(name, value);
  }
  return { help: false, flags };
}

// --- cluster.json ------------------------------------------------------------------------------

const port = intSchema(1, 65535);
const memberSchema = z.object({
  id: intSchema(0, MAX_REPLICAS - 1),
  name: z.string().optional(),
  host: z.string({ error: 'must be a host name or an IPv4 address' }).trim()
    .min(1, { error: 'must be a host name or an IPv4 address' }),
  respPort: port,
  agentPort: port,
  fabricPort: port,
  bootstrapPort: port.optional(),
});
const fileSchema = z.object({
  version: z.literal(1, { error: 'must be 1 (the cluster.json version this agent reads)' }),
  cluster: z.string().optional(),
  namespace: z.string().optional(),
  members: z.array(memberSchema, { error: 'must be a list of members' })
    .min(1, { error: 'must list at least one member' })
    .max(MAX_REPLICAS, { error: `must list at most ${MAX_REPLICAS} members` }),
  engine: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
  rdma: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
}, { error: 'must be a JSON object' });
type ClusterFile = z.infer<typeof fileSchema>;

// The operator's member list must be readable by this schema (compile-time drift check; engine and rdma fields are
// checked one by one as settings).
export const operatorDocumentFits = (doc: ClusterConfig): Pick<z.input<typeof fileSchema>, 'version' | 'members'> => doc;

function issuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `${out ? '.' : ''}${String(key)}`;
  return out || '(document)';
}

function readClusterFile(path: string, label: string, readFile: (p: string) => Buffer): { file: ClusterFile; doc: unknown } {
  let text: string;
  try {
    text = readFile(path).toString('utf8');
  } catch (e) {
    throw new ConfigError(label, `cannot read ${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(label, `${path} is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`cluster.json ${issuePath(issue.path)}`, `${issue.message} (in ${path})`);
  }
  return { file: parsed.data, doc };
}

function valueAt(doc: unknown, dotted: string): unknown {
  let at: unknown = doc;
  for (const key of dotted.split('.')) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
}

// --- the whole configuration -------------------------------------------------------------------

export function loadAgentConfig(inputs: ConfigInputs): AgentConfig {
  const args = parseAgentArgs(inputs.argv);
  if (args.help) throw new Error('loadAgentConfig: --help is handled by the caller');
  const readFile = inputs.readFile ?? ((p: string) => readFileSync(p));
  const values: Record<string, unknown> = {};
  const labels: Record<string, string> = {};
  const sources: AgentConfig['sources'] = {};

  const raw = (s: Setting, file: unknown): { value: unknown; label: string; source: AgentConfig['sources'][string] } => {
    if (args.flags.has(s.flag)) return { value: args.flags.get(s.flag), label: `--${s.flag}`, source: 'flag' };
    const fromEnv = s.env !== undefined ? inputs.env[s.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, label: s.env!, source: 'env' };
    if (s.file && file !== undefined) {
      const field = s.file.replace('members[self]', `members[${String(values.replicaId)}]`);
      return { value: file, label: `cluster.json ${field}`, source: 'file' };
    }
    return { value: undefined, label: `--${s.flag}${s.env ? ` (${s.env})` : ''}`, source: 'default' };
  };
  const take = (s: Setting, fileValue: unknown): void => {
    const { value, label, source } = raw(s, fileValue);
    const parsed = s.schema.safeParse(value);
    if (!parsed.success) {
      const message = parsed.error.issues[0]?.message ?? 'invalid';
      if (value === undefined) throw new ConfigError(label, 'is required');
      throw new ConfigError(label, `${message}, got ${show(value)}`);
    }
    values[s.key] = parsed.data;
    labels[s.key] = label;
    sources[s.key] = source;
  };
  const setting = (key: string): Setting => SETTINGS.find((s) => s.key === key)!;

  // 1. Identity first: the file and this replica's member entry depend on them.
  take(setting('replicaId'), undefined);
  take(setting('config'), undefined);
  const configPath = resolvePath(values.config as string);
  // The schema checks the structure; settings read their fields from the document as written.
  const { file, doc } = readClusterFile(configPath, labels.config!, readFile);

  const ids = file.members.map((m) => m.id);
  const expected = ids.map((_, i) => i);
  if ([...ids].sort((a, b) => a - b).join() !== expected.join()) {
    throw new ConfigError('cluster.json members', `ids must be 0..${ids.length - 1}, each once; got ${ids.join(', ')} ` +
      `(in ${configPath})`);
  }
  const replicaId = values.replicaId as number;
  const selfEntry = file.members.find((m) => m.id === replicaId);
  if (!selfEntry) {
    throw new ConfigError(labels.replicaId!, `${replicaId} is not a member id; ${configPath} lists ${ids.join(', ')}`);
  }

  // 2. Everything else, reading file fields where the table names one.
  for (const s of SETTINGS) {
    if (s.key === 'replicaId' || s.key === 'config') continue;
    let fileValue: unknown;
    if (s.file?.startsWith('members[self].')) fileValue = valueAt(selfEntry, s.file.slice('members[self].'.length));
    else if (s.file) fileValue = valueAt(doc, s.file);
    take(s, fileValue);
  }

  // 3. Relations between settings.
  const engine: EngineSettings = {
    logSizeBytes: values.logSizeBytes as number,
    maxRequestBytes: values.maxRequestBytes as number,
    heartbeatPeriodMicros: values.heartbeatPeriodMicros as number,
    scoreMax: values.scoreMax as number,
    failureThreshold: values.failureThreshold as number,
    recoveryThreshold: values.recoveryThreshold as number,
    stuckReplicationTimeoutMicros: values.stuckReplicationTimeoutMicros as number,
    brokenConnectionTimeoutMicros: values.brokenConnectionTimeoutMicros as number,
    permissionSwitchMechanism: values.permissionSwitchMechanism as PermissionMechanismSetting,
    maxBatchRequests: values.maxBatchRequests as number,
    maxBatchBytes: values.maxBatchBytes as number,
    maxOutstandingProposals: values.maxOutstandingProposals as number,
  };
  if (engine.logSizeBytes % 4096 !== 0) {
    throw new ConfigError(labels.logSizeBytes!, `must be a multiple of 4096, got ${engine.logSizeBytes}`);
  }
  if (engine.failureThreshold >= engine.recoveryThreshold) {
    throw new ConfigError(labels.failureThreshold!, `must be below recoveryThreshold (${engine.recoveryThreshold}), ` +
      `got ${engine.failureThreshold}`);
  }
  if (engine.recoveryThreshold > engine.scoreMax) {
    throw new ConfigError(labels.recoveryThreshold!, `must be at most scoreMax (${engine.scoreMax}), ` +
      `got ${engine.recoveryThreshold}`);
  }

  const members: MemberConfig[] = file.members
    .map((m) => ({ ...m, bootstrapPort: m.bootstrapPort ?? m.fabricPort + 1 }))
    .sort((a, b) => a.id - b.id);
  if (members.some((m) => m.bootstrapPort > 65535)) {
    const m = members.find((x) => x.bootstrapPort > 65535)!;
    throw new ConfigError(`cluster.json members[${m.id}].fabricPort`, 'must be below 65535: the bootstrap exchange ' +
      'uses fabricPort + 1 unless members[].bootstrapPort is given');
  }
  const self = members.find((m) => m.id === replicaId)!;
  const httpPort = values.httpPort as number;
  checkPortClashes(members, self, httpPort, labels.httpPort!);

  let fabricKey: Buffer;
  const keyPath = values.fabricKeyFile as string;
  try {
    fabricKey = readFile(keyPath);
  } catch (e) {
    throw new ConfigError(labels.fabricKeyFile!, `cannot read ${keyPath}: ${(e as Error).message}`);
  }
  if (fabricKey.length === 0) throw new ConfigError(labels.fabricKeyFile!, `${keyPath} is empty`);

  let statusToken: string | undefined;
  if (values.statusTokenFile !== undefined) {
    const tokenPath = values.statusTokenFile as string;
    try {
      statusToken = readFile(tokenPath).toString('utf8').trim();
    } catch (e) {
      throw new ConfigError(labels.statusTokenFile!, `cannot read ${tokenPath}: ${(e as Error).message}`);
    }
    if (!statusToken) throw new ConfigError(labels.statusTokenFile!, `${tokenPath} is empty`);
  }

  const hugepages = values.hugepagesDirs as string | undefined;
  return {
    replicaId,
    configPath,
    cluster: file.cluster ?? 'mu',
    namespace: file.namespace ?? '',
    members,
    self,
    fabricKey,
    bootstrap: values.bootstrap as boolean,
    podIP: values.podIP as string | undefined,
    httpHost: values.httpHost as string,
    httpPort,
    respBind: values.respBind as string,
    statusToken,
    fabric: values.fabric as FabricChoice,
    rdma: {
      device: values.rdmaDevice as string | undefined,
      netdev: values.rdmaNetdev as string | undefined,
      port: values.rdmaPort as number,
      linkLayer: values.rdmaLinkLayer as RdmaSettings['linkLayer'],
      gidIndex: values.rdmaGidIndex as RdmaSettings['gidIndex'],
    },
    sysfsRoot: values.sysfsRoot as string,
    netns: values.netns as string | undefined,
    engine,
    busyPoll: values.busyPoll as 'auto' | boolean,
    bootstrapTimeoutSeconds: values.bootstrapTimeoutSeconds as number,
    handoverTimeoutMs: values.handoverTimeoutMs as number,
    logLevel: values.logLevel as AgentConfig['logLevel'],
    pod: {
      name: values.podName as string | undefined,
      namespace: values.podNamespace as string | undefined,
      nodeName: values.nodeName as string | undefined,
      hugepagesDirs: hugepages ? hugepages.split(',').map((d) => d.trim()).filter(Boolean) : undefined,
    },
    sources,
    labels,
  };
}

// Host networking puts every port of the replicas on one host in one port space.
function checkPortClashes(members: MemberConfig[], self: MemberConfig, httpPort: number, httpLabel: string): void {
  const used = new Map<string, string>();
  const claim = (host: string, p: number, what: string, label: string): void => {
    if (p === 0) return;
    const key = `${host}:${p}`;
    const owner = used.get(key);
    if (owner) throw new ConfigError(label, `port ${p} is also ${owner} on host ${host}`);
    used.set(key, what);
  };
  for (const m of members) {
    const at = `cluster.json members[${m.id}]`;
    claim(m.host, m.respPort, `members[${m.id}].respPort`, `${at}.respPort`);
    const agent = m.id === self.id ? httpPort : m.agentPort;
    claim(m.host, agent, m.id === self.id ? 'the HTTP port' : `members[${m.id}].agentPort`,
      m.id === self.id ? httpLabel : `${at}.agentPort`);
    claim(m.host, m.fabricPort, `members[${m.id}].fabricPort`, `${at}.fabricPort`);
    claim(m.host, m.bootstrapPort, `members[${m.id}].bootstrapPort (fabricPort + 1)`, `${at}.bootstrapPort`);
  }
}

