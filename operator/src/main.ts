// The operator's entry point: `npm run operator` (out of cluster, against $KUBECONFIG) or the container's command
// (in cluster, with the pod's service account). Every setting is a flag with an environment variable behind it,
// so the Helm chart and a developer's shell configure it the same way.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { DEFAULT_BUILDER_OPTIONS } from './builders/options.js';
import { startOperator } from './runtime/operator.js';

interface Setting {
  flag: string;
  env: string;
  help: string;
  default?: string;
}

const SETTINGS = {
  kubeconfig: { flag: '--kubeconfig', env: 'KUBECONFIG', help: 'kubeconfig file; unset: in-cluster config' },
  namespace: { flag: '--namespace', env: 'MU_WATCH_NAMESPACE', help: 'watch only this namespace (default: all)' },
  leaseNamespace: {
    flag: '--lease-namespace',
    env: 'POD_NAMESPACE',
    help: 'namespace of the leader election Lease',
    default: 'default',
  },
  leaseName: { flag: '--lease-name', env: 'MU_LEASE_NAME', help: 'name of the Lease', default: 'mu-operator' },
  identity: { flag: '--identity', env: 'POD_NAME', help: 'this instance in the Lease (default: host name + random)' },
  listen: {
    flag: '--listen',
    env: 'MU_LISTEN',
    help: 'host:port of /metrics, /healthz, /readyz ("off" to disable)',
    default: '127.0.0.1:8080',
  },
  workers: { flag: '--workers', env: 'MU_WORKERS', help: 'clusters reconciled in parallel', default: '2' },
  pollMs: {
    flag: '--poll-interval-ms',
    env: 'MU_POLL_INTERVAL_MS',
    help: 'agent /status poll period per cluster',
    default: '2000',
  },
  image: {
    flag: '--agent-image',
    env: 'MU_AGENT_IMAGE',
    help: 'agent image when spec.image is unset',
    default: DEFAULT_BUILDER_OPTIONS.defaultImage,
  },
  agentCommand: {
    flag: '--agent-command',
    env: 'MU_AGENT_COMMAND',
    help: 'command that starts the agent in the image, space-separated',
    default: DEFAULT_BUILDER_OPTIONS.agentCommand.join(' '),
  },
  clusterDomain: {
    flag: '--cluster-domain',
    env: 'MU_CLUSTER_DOMAIN',
    help: 'DNS suffix of Services',
    default: DEFAULT_BUILDER_OPTIONS.clusterDomain,
  },
  membershipChanges: {
    flag: '--membership-changes',
    env: 'MU_MEMBERSHIP_CHANGES',
    help: '"true" once the engine can add/remove members of a running cluster',
    default: 'false',
  },
  watchNodes: {
    flag: '--watch-nodes',
    env: 'MU_WATCH_NODES',
    help: '"false" to skip the RDMA node check (no cluster-wide node read access)',
    default: 'true',
  },
  manageCrd: {
    flag: '--manage-crd',
    env: 'MU_MANAGE_CRD',
    help: '"true" to apply the built-in MuCluster CRD when becoming the leader (keeps it in step on upgrades)',
    default: 'false',
  },
  logLevel: { flag: '--log-level', env: 'LOG_LEVEL', help: 'pino level', default: 'info' },
} satisfies Record<string, Setting>;

type Key = keyof typeof SETTINGS;

class UsageError extends Error {
  readonly code = 'MU_OPERATOR_USAGE';
}

function parse(argv: string[]): Record<Key, string | undefined> {
  const out = {} as Record<Key, string | undefined>;
  const byFlag = new Map(Object.entries(SETTINGS).map(([k, s]) => [s.flag, k as Key]));
  for (const [k, s] of Object.entries(SETTINGS) as Array<[Key, Setting]>) {
    out[k] = process.env[s.env] ?? s.default;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      const lines = Object.values(SETTINGS as Record<string, Setting>).map(
        (s) => `  ${s.flag.padEnd(22)} ${s.help} [$${s.env}${s.default !== undefined ? `, default ${s.default}` : ''}]`,
      );
      process.stdout.write(`usage: mu-operator [flags]\n${lines.join('\n')}\n`);
      process.exit(0);
    }
    const [flag, inline] = arg.split(/=(.*)/s, 2) as [string, string | undefined];
    const key = byFlag.get(flag);
    if (!key) throw new UsageError(`unknown flag ${flag} (see --help)`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    out[key] = value;
  }
  return out;
}

function positiveInt(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

function bool(name: string, raw: string | undefined): boolean {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new UsageError(`${name} must be true or false, got "${raw}"`);
}

async function main(): Promise<void> {
  const s = parse(process.argv.slice(2));
  const logger = pino({ level: s.logLevel ?? 'info', base: { component: 'mu-operator' } });
  const kc = new KubeConfig();
  if (s.kubeconfig) kc.loadFromFile(s.kubeconfig);
  else kc.loadFromCluster();
  let listen: { host: string; port: number } | null = null;
  if (s.listen && s.listen !== 'off') {
    const m = /^(.*):(\d+)$/.exec(s.listen);
    if (!m) throw new UsageError(`--listen must be host:port or "off", got "${s.listen}"`);
    listen = { host: m[1] || '0.0.0.0', port: Number(m[2]) };
  }
  const identity = s.identity ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
  const operator = await startOperator({
    kubeConfig: kc,
    ...(s.namespace ? { namespace: s.namespace } : {}),
    lease: { namespace: s.leaseNamespace!, name: s.leaseName! },
    identity,
    listen,
    workers: positiveInt('--workers', s.workers),
    watchNodes: bool('--watch-nodes', s.watchNodes),
    settings: {
      builder: {
        defaultImage: s.image!,
        agentCommand: s.agentCommand!.split(/\s+/).filter(Boolean),
        clusterDomain: s.clusterDomain!,
      },
      membershipChanges: bool('--membership-changes', s.membershipChanges),
      pollIntervalMs: positiveInt('--poll-interval-ms', s.pollMs),
      fieldManager: 'mu-operator',
    },
    manageCrd: bool('--manage-crd', s.manageCrd),
    logger,
    onLostLease: () => process.exit(1),
  });
  logger.info({ identity, server: operator.client.server }, 'mu-operator running');
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const hard = setTimeout(() => process.exit(1), 10_000);
    hard.unref();
    operator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((e: Error & { code?: string }) => {
  process.stderr.write(`mu-operator: ${e.code ? `[${e.code}] ` : ''}${e.message}\n`);
  process.exit(e instanceof UsageError ? 2 : 1);
});
