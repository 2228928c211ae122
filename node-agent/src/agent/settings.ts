// Every setting of the node agent, one table: its flag, its environment variable, where it sits in the mounted
// cluster.json (operator/src/builders/cluster-config.ts), its default and its schema. Precedence: flag, then
// environment, then cluster.json, then the default. `--help` is printed from this table, and a bad value is reported
// as one line naming where it came from (flag, variable or file field) and what is wrong with it.
import { z } from 'zod';

/** Largest group the operator accepts (operator/src/api/schema.ts MAX_REPLICAS). */
export const MAX_REPLICAS = 9;

export type SettingGroup = 'identity' | 'network' | 'fabric' | 'engine' | 'runtime' | 'pod';

export interface Setting {
  key: string;
  flag: string;
  env?: string;
  /** Dotted path in cluster.json; "members[self]." fields are read from this replica's member entry. */
  file?: string;
  group: SettingGroup;
  valueName: string;
  help: string;
  /** Shown in --help; the value itself comes from the schema's default. */
  defaultText?: string;
  schema: z.ZodType;
  /** Boolean flags may be given bare (--bootstrap). */
  bare?: boolean;
}

// Flags and environment variables are strings; cluster.json holds numbers. Integer settings accept both.
const toInt = (v: unknown): unknown => (typeof v === 'string' && /^-?[0-9]+$/.test(v.trim()) ? Number(v) : v);
const toBool = (v: unknown): unknown => {
  if (typeof v !== 'string') return v;
  const s = v.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(s)) return true;
  if (['false', '0', 'no'].includes(s)) return false;
  return v;
};

export function intSchema(min: number, max: number): z.ZodType<number> {
  const message = `must be an integer from ${min} to ${max}`;
  return z.preprocess(toInt, z.number({ error: message }).int({ error: message }).min(min, { error: message })
    .max(max, { error: message })) as z.ZodType<number>;
}
/** "auto", or a value `accept` admits (after `coerce`): one error message for both. */
function autoOr<T>(accept: (v: unknown) => boolean, coerce: (v: unknown) => unknown, message: string) {
  return z.preprocess((v) => (v === 'auto' ? v : coerce(v)),
    z.custom<'auto' | T>((v) => v === 'auto' || accept(v), { error: message }));
}
const boolSchema = z.preprocess(toBool, z.boolean({ error: 'must be true or false' }));
const nonEmpty = (what: string) => z.string({ error: `must be ${what}` }).trim().min(1, { error: `must be ${what}` });
const enumSchema = <T extends string>(values: readonly [T, ...T[]]) =>
  z.enum(values, { error: `must be one of ${values.join(', ')}` });
const ipv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/,
  { error: 'must be an IPv4 address' });

export const SETTINGS: readonly Setting[] = [
  // --- identity and the operator's contract (operator/src/builders/agent-contract.ts) ---
  { key: 'replicaId', flag: 'replica-id', env: 'MU_REPLICA_ID', group: 'identity', valueName: 'N',
    help: "this replica's id: an id of the member list in --config", schema: intSchema(0, MAX_REPLICAS - 1) },
  { key: 'config', flag: 'config', env: 'MU_CONFIG', group: 'identity', valueName: 'FILE',
    help: 'cluster.json: member list and engine settings (the operator mounts it at /etc/mu/config)',
    schema: nonEmpty('a file path') },
  { key: 'fabricKeyFile', flag: 'fabric-key-file', env: 'MU_FABRIC_KEY_FILE', group: 'identity', valueName: 'FILE',
    help: "the cluster's fabric key (the operator mounts it at /etc/mu/secret/fabric-key)",
    schema: nonEmpty('a file path') },
  { key: 'bootstrap', flag: 'bootstrap', env: 'MU_BOOTSTRAP', group: 'identity', valueName: 'true|false', bare: true,
    help: 'start a brand-new cluster (only the first members, once); otherwise rejoin as a learner and count only ' +
      'once caught up', defaultText: 'false', schema: boolSchema.default(false) },

  // --- network ---
  { key: 'podIP', flag: 'pod-ip', env: 'MU_POD_IP', group: 'network', valueName: 'IPv4',
    help: "address this replica's fabric and bootstrap listeners bind to",
    defaultText: 'its member host, resolved', schema: ipv4.optional() },
  { key: 'httpHost', flag: 'http-host', env: 'MU_HTTP_HOST', group: 'network', valueName: 'ADDR',
    help: 'address of /healthz /readyz /metrics /status', defaultText: '0.0.0.0',
    schema: nonEmpty('an address').default('0.0.0.0') },
  { key: 'httpPort', flag: 'http-port', env: 'MU_HTTP_PORT', file: 'members[self].agentPort', group: 'network',
    valueName: 'PORT', help: 'port of the HTTP endpoints (0: any free port)', schema: intSchema(0, 65535) },
  { key: 'respBind', flag: 'resp-bind', env: 'MU_RESP_BIND', group: 'network', valueName: 'ADDR',
    help: 'address the RESP (Redis protocol) front end listens on; its port is members[id].respPort',
    defaultText: '0.0.0.0', schema: nonEmpty('an address').default('0.0.0.0') },
  { key: 'statusTokenFile', flag: 'status-token-file', env: 'MU_STATUS_TOKEN_FILE', group: 'network',
    valueName: 'FILE', help: 'when set, /status requires "Authorization: Bearer <file contents>"',
    schema: nonEmpty('a file path').optional() },

  // --- fabric ---
  { key: 'fabric', flag: 'fabric', env: 'MU_FABRIC', file: 'fabric', group: 'fabric', valueName: 'soft|verbs|auto',
    help: 'verbs: RDMA NICs; soft: one-sided RDMA emulated over TCP; auto: verbs when an active RDMA port exists, ' +
      'else soft', defaultText: 'auto', schema: enumSchema(['soft', 'verbs', 'auto']).default('auto') },
  { key: 'rdmaDevice', flag: 'rdma-device', env: 'MU_RDMA_DEVICE', file: 'rdma.device', group: 'fabric',
    valueName: 'NAME', help: 'RDMA device (e.g. mlx5_0)', defaultText: 'the one behind --rdma-netdev, else the ' +
      'first with an active port', schema: nonEmpty('a device name').optional() },
  { key: 'rdmaNetdev', flag: 'rdma-netdev', env: 'MU_RDMA_NETDEV', file: 'rdma.netdev', group: 'fabric',
    valueName: 'IFNAME', help: 'network interface whose RDMA device to use (RoCE)',
    schema: nonEmpty('an interface name').optional() },
  { key: 'rdmaPort', flag: 'rdma-port', env: 'MU_RDMA_PORT', file: 'rdma.port', group: 'fabric', valueName: 'N',
    help: 'port of the RDMA device (1-based)', defaultText: '1', schema: intSchema(1, 255).default(1) },
  { key: 'rdmaLinkLayer', flag: 'rdma-link-layer', env: 'MU_RDMA_LINK_LAYER', file: 'rdma.linkLayer',
    group: 'fabric', valueName: 'auto|InfiniBand|Ethernet', help: 'expected link layer; a mismatch is refused',
    defaultText: 'auto', schema: enumSchema(['auto', 'InfiniBand', 'Ethernet']).default('auto') },
  { key: 'rdmaGidIndex', flag: 'rdma-gid-index', env: 'MU_RDMA_GID_INDEX', file: 'rdma.gidIndex', group: 'fabric',
    valueName: 'auto|N', help: 'GID table index; auto prefers RoCE v2 with an IPv4-mapped address',
    defaultText: 'auto', schema: autoOr((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 255,
      toInt, 'must be "auto" or an integer from 0 to 255').default('auto') },
  { key: 'sysfsRoot', flag: 'sysfs-root', env: 'MU_SYSFS_ROOT', group: 'fabric', valueName: 'DIR',
    help: 'sysfs mount: RDMA devices are read under DIR/class/infiniband, interfaces under DIR/class/net',
    defaultText: '/sys', schema: nonEmpty('a directory').default('/sys') },
  { key: 'netns', flag: 'netns', env: 'MU_NETNS', group: 'fabric', valueName: 'NAME',
    help: 'network namespace (/var/run/netns/NAME) for the fabric and bootstrap sockets (tests)',
    schema: nonEmpty('a namespace name').optional() },

  // --- engine (cluster.json "engine", the MuCluster spec.engine) ---
  { key: 'logSizeBytes', flag: 'log-size-bytes', env: 'MU_LOG_SIZE_BYTES', file: 'engine.logSizeBytes',
    group: 'engine', valueName: 'BYTES', help: 'replicated log ring size, a multiple of 4096, the same on every replica',
    defaultText: '67108864 (64 MiB)', schema: intSchema(1 << 20, 2 ** 34).default(64 << 20) },
  { key: 'maxRequestBytes', flag: 'max-request-bytes', env: 'MU_MAX_REQUEST_BYTES', file: 'engine.maxRequestBytes',
    group: 'engine', valueName: 'BYTES', help: 'largest client request (value size limit), the same on every replica',
    defaultText: '65536', schema: intSchema(64, 64 << 20).default(65536) },
  { key: 'heartbeatPeriodMicros', flag: 'heartbeat-period-micros', env: 'MU_HEARTBEAT_PERIOD_MICROS',
    file: 'engine.heartbeatPeriodMicros', group: 'engine', valueName: 'µs',
    help: "how often every peer's heartbeat counter is read", defaultText: '1000',
    schema: intSchema(1, 1_000_000).default(1000) },
  { key: 'scoreMax', flag: 'score-max', env: 'MU_SCORE_MAX', file: 'engine.scoreMax', group: 'engine',
    valueName: 'N', help: 'upper bound of a peer\'s liveness score', defaultText: '15',
    schema: intSchema(1, 255).default(15) },
  { key: 'failureThreshold', flag: 'failure-threshold', env: 'MU_FAILURE_THRESHOLD', file: 'engine.failureThreshold',
    group: 'engine', valueName: 'N', help: 'a peer whose score falls to this is failed (below recoveryThreshold)',
    defaultText: '2', schema: intSchema(0, 254).default(2) },
  { key: 'recoveryThreshold', flag: 'recovery-threshold', env: 'MU_RECOVERY_THRESHOLD',
    file: 'engine.recoveryThreshold', group: 'engine', valueName: 'N',
    help: 'a failed peer whose score climbs back to this is alive again (at most scoreMax)', defaultText: '6',
    schema: intSchema(1, 255).default(6) },
  { key: 'stuckReplicationTimeoutMicros', flag: 'stuck-replication-timeout-micros',
    env: 'MU_STUCK_REPLICATION_TIMEOUT_MICROS', file: 'engine.stuckReplicationTimeoutMicros', group: 'engine',
    valueName: 'µs', help: 'a leader making no progress this long stops its heartbeat (fate sharing)',
    defaultText: '50000', schema: intSchema(1, 3_600_000_000).default(50_000) },
  { key: 'brokenConnectionTimeoutMicros', flag: 'broken-connection-timeout-micros',
    env: 'MU_BROKEN_CONNECTION_TIMEOUT_MICROS', file: 'engine.brokenConnectionTimeoutMicros', group: 'engine',
    valueName: 'µs', help: 'heartbeat reads failing this long: the connection to the peer is re-established',
    defaultText: '20000', schema: intSchema(1, 3_600_000_000).default(20_000) },
  { key: 'permissionSwitchMechanism', flag: 'permission-switch-mechanism', env: 'MU_PERMISSION_SWITCH_MECHANISM',
    file: 'engine.permissionSwitchMechanism', group: 'engine', valueName: 'accessFlags|qpCycle|mrReregister',
    help: 'how write permission moves to a new leader', defaultText: 'accessFlags',
    schema: enumSchema(['accessFlags', 'qpCycle', 'mrReregister']).default('accessFlags') },
  { key: 'maxBatchRequests', flag: 'max-batch-requests', env: 'MU_MAX_BATCH_REQUESTS',
    file: 'engine.batching.maxBatchRequests', group: 'engine', valueName: 'N',
    help: 'most client requests in one log entry', defaultText: '32', schema: intSchema(1, 4096).default(32) },
  { key: 'maxBatchBytes', flag: 'max-batch-bytes', env: 'MU_MAX_BATCH_BYTES', file: 'engine.batching.maxBatchBytes',
    group: 'engine', valueName: 'BYTES', help: 'most payload bytes in one log entry', defaultText: '65536',
    schema: intSchema(64, 16 << 20).default(65536) },
  { key: 'maxOutstandingProposals', flag: 'max-outstanding-proposals', env: 'MU_MAX_OUTSTANDING_PROPOSALS',
    file: 'engine.batching.maxOutstandingProposals', group: 'engine', valueName: 'N',
    help: 'pipelining depth (entries in flight)', defaultText: '32', schema: intSchema(1, 1024).default(32) },

  // --- runtime ---
  { key: 'busyPoll', flag: 'busy-poll', env: 'MU_BUSY_POLL', group: 'runtime', valueName: 'auto|true|false',
    help: 'the engine thread spins on a core (true) or yields when idle (false); auto: spin on verbs only',
    defaultText: 'auto', schema: autoOr((v) => typeof v === 'boolean', toBool, 'must be auto, true or false')
      .default('auto') },
  { key: 'bootstrapTimeoutSeconds', flag: 'bootstrap-timeout-seconds', env: 'MU_BOOTSTRAP_TIMEOUT_SECONDS',
    group: 'runtime', valueName: 'S', help: 'how long start-up waits for every peer to connect',
    defaultText: '120', schema: intSchema(1, 3600).default(120) },
  { key: 'handoverTimeoutMs', flag: 'handover-timeout-ms', env: 'MU_HANDOVER_TIMEOUT_MS', group: 'runtime',
    valueName: 'MS', help: 'on SIGTERM, how long a leader waits for another replica to take over before stopping',
    defaultText: '5000', schema: intSchema(0, 600_000).default(5000) },
  { key: 'terminationMessagePath', flag: 'termination-message-path', env: 'MU_TERMINATION_MESSAGE_PATH',
    group: 'runtime', valueName: 'FILE', help: 'when the agent exits on an error, it writes "<Code>: <message>" here ' +
      '(the pod\'s terminationMessagePath, which the operator reads, e.g. MemlockTooLow)',
    schema: nonEmpty('a file path').optional() },
  { key: 'logLevel', flag: 'log-level', env: 'MU_LOG_LEVEL', group: 'runtime', valueName: 'LEVEL',
    help: 'trace, debug, info, warn or error', defaultText: 'info',
    schema: enumSchema(['trace', 'debug', 'info', 'warn', 'error']).default('info') },

  // --- pod identity (downward API; shown in /status and logs) ---
  { key: 'podName', flag: 'pod-name', env: 'MU_POD_NAME', group: 'pod', valueName: 'NAME', help: 'pod name',
    schema: z.string().optional() },
  { key: 'podNamespace', flag: 'pod-namespace', env: 'MU_POD_NAMESPACE', group: 'pod', valueName: 'NS',
    help: 'pod namespace', schema: z.string().optional() },
  { key: 'nodeName', flag: 'node-name', env: 'MU_NODE_NAME', group: 'pod', valueName: 'NAME',
    help: 'node the pod runs on', schema: z.string().optional() },
  { key: 'hugepagesDirs', flag: 'hugepages-dirs', env: 'MU_HUGEPAGES_DIRS', group: 'pod', valueName: 'DIRS',
    help: 'comma-separated hugetlbfs mounts (reported; the log is not yet backed by huge pages)',
    schema: z.string().optional() },
];

const GROUP_TITLES: Record<SettingGroup, string> = {
  identity: 'identity (the operator passes these)',
  network: 'network',
  fabric: 'fabric and RDMA',
  engine: 'engine (normally from cluster.json "engine")',
  runtime: 'runtime',
  pod: 'pod identity (downward API)',
};

export function agentHelpText(command: string): string {
  const lines = [
    `usage: ${command} --replica-id N --config FILE --fabric-key-file FILE [--bootstrap] [settings]`,
    '',
    'Runs one Mu replica (engine, failure detector, RESP front end) and serves /healthz, /readyz, /metrics and',
    '/status over HTTP. Every setting is a flag, an environment variable, or (where a field is named) read from',
    'cluster.json; that order decides. A bad setting exits with status 2 and one line naming it.',
  ];
  for (const group of Object.keys(GROUP_TITLES) as SettingGroup[]) {
    lines.push('', `${GROUP_TITLES[group]}:`);
    for (const s of SETTINGS.filter((x) => x.group === group)) {
      const usage = s.bare ? `--${s.flag}` : `--${s.flag} ${s.valueName}`;
      const sources = [s.env, s.file ? `cluster.json ${s.file}` : undefined].filter(Boolean).join(', ');
      const fallback = s.defaultText ? ` (default ${s.defaultText})` : '';
      lines.push(`  ${usage}`, `      ${s.help}${fallback}`);
      if (sources) lines.push(`      from: ${sources}`);
    }
  }
  lines.push('', '  --help', '      this text', '',
    'examples:',
    `  ${command} --replica-id 0 --config /etc/mu/config/cluster.json --fabric-key-file /etc/mu/secret/fabric-key`,
    `  MU_REPLICA_ID=1 ${command} --config cluster.json --fabric-key-file key --fabric soft --http-port 9091`);
  return `${lines.join('\n')}\n`;
}
