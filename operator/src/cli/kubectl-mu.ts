// `kubectl mu`: a kubectl plugin (the executable bin/kubectl-mu on PATH) for MuClusters.
//   kubectl mu status NAME [-n NS]              members, roles, leader, conditions, the last failovers
//   kubectl mu failovers NAME [-n NS]           the failover history with its µs breakdown
//   kubectl mu switchover NAME --to MEMBER      ask for a leadership handover (annotation; the operator acts)
//   kubectl mu pause NAME / resume NAME         stop / restart reconciliation (status is still reported)
// Uses $KUBECONFIG or ~/.kube/config, and the context's namespace unless -n/--namespace is given.
import { KubeConfig } from '@kubernetes/client-node';
import { ANNOTATION_RECONCILIATION_PAUSED, ANNOTATION_SWITCHOVER_TO } from '../api/labels.js';
import type { MuCluster } from '../api/types.js';
import { objectPath, RESOURCES } from '../kube/paths.js';
import { isNotFound, kubeClient, type KubeClient } from '../kube/rest.js';
import { formatFailovers, formatStatus } from './format.js';

const USAGE = `usage: kubectl mu <command> NAME [-n NAMESPACE]
commands:
  status NAME                 members, roles, leader, conditions and the last failovers
  failovers NAME              failover history with detection / permission switch / catch-up µs
  switchover NAME --to MEMBER hand leadership to MEMBER (e.g. demo-2)
  pause NAME                  stop reconciling NAME (nothing is changed; status is still reported)
  resume NAME                 reconcile NAME again
`;

export class PluginError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface PluginArgs {
  command: string;
  name: string;
  namespace?: string;
  to?: string;
}

export function parseArgs(argv: readonly string[]): PluginArgs {
  const positional: string[] = [];
  let namespace: string | undefined;
  let to: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new PluginError('MU_KUBECTL_BAD_FLAG', `${flag} needs a value`);
      return v;
    };
    if (flag === '-n' || flag === '--namespace') namespace = value();
    else if (flag === '--to') to = value();
    else if (a.startsWith('-')) throw new PluginError('MU_KUBECTL_BAD_FLAG', `unknown flag ${flag}\n${USAGE}`);
    else positional.push(a);
  }
  const [command, name, ...rest] = positional;
  if (!command || !['status', 'failovers', 'switchover', 'pause', 'resume'].includes(command)) {
    throw new PluginError('MU_KUBECTL_USAGE', command ? `unknown command "${command}"\n${USAGE}` : USAGE);
  }
  if (!name) throw new PluginError('MU_KUBECTL_USAGE', `${command} needs the MuCluster NAME\n${USAGE}`);
  if (rest.length > 0) throw new PluginError('MU_KUBECTL_USAGE', `unexpected argument "${rest[0]}"`);
  if (command === 'switchover' && !to) {
    throw new PluginError('MU_KUBECTL_USAGE', 'switchover needs --to MEMBER (a pod name such as demo-1)');
  }
  return { command, name, ...(namespace ? { namespace } : {}), ...(to ? { to } : {}) };
}

async function read(client: KubeClient, namespace: string, name: string): Promise<MuCluster> {
  try {
    return await client.get<MuCluster>(objectPath(RESOURCES.muClusters, namespace, name));
  } catch (e) {
    if (isNotFound(e)) throw new PluginError('MU_KUBECTL_NOT_FOUND', `MuCluster ${namespace}/${name} not found`);
    throw e;
  }
}

async function annotate(client: KubeClient, namespace: string, name: string, key: string, value: string | null) {
  await client.patch(objectPath(RESOURCES.muClusters, namespace, name), 'merge', {
    metadata: { annotations: { [key]: value } },
  });
}

export async function run(argv: readonly string[], out: (s: string) => void, kc?: KubeConfig): Promise<number> {
  const args = parseArgs(argv);
  const config = kc ?? new KubeConfig();
  if (!kc) config.loadFromDefault();
  const client = kubeClient(config);
  const contextNamespace = config.getContextObject(config.getCurrentContext())?.namespace;
  const namespace = args.namespace ?? contextNamespace ?? 'default';
  const cluster = await read(client, namespace, args.name);
  const now = new Date();
  switch (args.command) {
    case 'status':
      out(formatStatus(cluster, now));
      return 0;
    case 'failovers':
      out(formatFailovers(cluster, now));
      return 0;
    case 'switchover': {
      const members = (cluster.status?.members ?? []).map((m) => m.name);
      if (!members.includes(args.to!)) {
        throw new PluginError(
          'MU_KUBECTL_BAD_MEMBER',
          `${args.to} is not a member of ${args.name} (members: ${members.join(', ') || 'none reported yet'})`,
        );
      }
      if (cluster.status?.leader?.member === args.to) {
        out(`${args.to} already leads ${args.name}\n`);
        return 0;
      }
      await annotate(client, namespace, args.name, ANNOTATION_SWITCHOVER_TO, args.to!);
      out(`switchover of ${args.name} to ${args.to} requested; follow it with: kubectl mu status ${args.name}\n`);
      return 0;
    }
    case 'pause':
      await annotate(client, namespace, args.name, ANNOTATION_RECONCILIATION_PAUSED, 'true');
      out(`${args.name}: reconciliation paused (status is still reported)\n`);
      return 0;
    case 'resume':
      await annotate(client, namespace, args.name, ANNOTATION_RECONCILIATION_PAUSED, null);
      out(`${args.name}: reconciliation resumed\n`);
      return 0;
  }
  return 2;
}
