// The kubelet stand-in: NOT a kubelet. A test fixture that makes a bare control plane (hack/dev-cluster.sh) look like
// a cluster with N RDMA-capable nodes. It registers the Nodes and keeps them Ready (Lease + status), runs every pod
// bound to them as local processes (in the node's network namespace when root; see network.ts and volumes.ts for
// what is and is not modelled), reports pod status and readiness from the pods' own probes, and kills the processes
// when a pod is deleted. No images, no cgroups, no CNI, no kube-proxy: Service ClusterIPs do not route.
//
//   tsx test/kubelet-standin/main.ts --kubeconfig FILE [--nodes 3] [--state-dir DIR] [--subnet 10.250.0]
//                                     [--netns | --no-netns] [--ready-file FILE] [--node-prefix mu-node]
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { makeInformer } from '../../operator/src/kube/informer.js';
import { objectPath, RESOURCES } from '../../operator/src/kube/paths.js';
import { isNotFound, kubeClient, type KubeClient } from '../../operator/src/kube/rest.js';
import {
  planNetwork,
  setUpNetwork,
  tearDownNetwork,
  writeHostsFiles,
  type HostEntry,
  type NetworkPlan,
  type NodeNetwork,
} from './network.js';
import { LEASE_RENEW_MS, postStatus, registerNode, renewLease, STATUS_REFRESH_MS } from './nodes.js';
import { PodRunner } from './pod-runner.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Options {
  kubeconfig: string;
  nodes: number;
  stateDir: string;
  subnet: string;
  netns: boolean;
  readyFile?: string;
  nodePrefix: string;
  clusterDomain: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    kubeconfig: process.env.KUBECONFIG ?? '',
    nodes: 3,
    stateDir: path.join(ROOT, '.dev-cluster', 'standin'),
    subnet: '10.250.0',
    netns: process.getuid?.() === 0,
    nodePrefix: 'mu-node',
    clusterDomain: 'cluster.local',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--kubeconfig':
        options.kubeconfig = value();
        break;
      case '--nodes':
        options.nodes = Number(value());
        if (!Number.isInteger(options.nodes) || options.nodes < 1) throw new Error('--nodes must be a positive integer');
        break;
      case '--state-dir':
        options.stateDir = value();
        break;
      case '--subnet':
        options.subnet = value();
        break;
      case '--netns':
        options.netns = true;
        break;
      case '--no-netns':
        options.netns = false;
        break;
      case '--ready-file':
        options.readyFile = value();
        break;
      case '--node-prefix':
        options.nodePrefix = value();
        break;
      case '--cluster-domain':
        options.clusterDomain = value();
        break;
      default:
        throw new Error(`unknown argument ${arg}`);
    }
  }
  if (!options.kubeconfig) throw new Error('--kubeconfig (or $KUBECONFIG) is required');
  return options;
}

function log(message: string): void {
  process.stdout.write(`${new Date().toISOString()} ${message}\n`);
}

class StandIn {
  private readonly runners = new Map<string, PodRunner>();
  private readonly statusWrites = new Map<string, { running: boolean; again: boolean }>();
  private readonly nodesByName: Map<string, NodeNetwork>;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly binDir: string;

  constructor(
    private readonly options: Options,
    private readonly client: KubeClient,
    private readonly plan: NetworkPlan,
  ) {
    this.nodesByName = new Map(plan.nodes.map((n) => [n.name, n]));
    this.binDir = path.join(options.stateDir, 'bin');
  }

  async run(kc: KubeConfig): Promise<() => Promise<void>> {
    mkdirSync(this.binDir, { recursive: true });
    // `mu` on the pods' PATH: the repository's CLI, standing in for the agent image's entrypoint.
    const mu = path.join(this.binDir, 'mu');
    if (!existsSync(mu)) symlinkSync(path.join(ROOT, 'bin', 'mu.js'), mu);

    for (const node of this.plan.nodes) {
      await registerNode(this.client, node, new Date());
      await renewLease(this.client, node, new Date());
      log(`node ${node.name} registered at ${node.address}${node.netns ? ` (netns ${node.netns})` : ''}`);
    }
    this.timers.push(
      setInterval(() => {
        for (const node of this.plan.nodes) {
          renewLease(this.client, node, new Date()).catch((e) => log(`lease ${node.name}: ${(e as Error).message}`));
        }
      }, LEASE_RENEW_MS),
      setInterval(() => {
        for (const node of this.plan.nodes) {
          postStatus(this.client, node, new Date()).catch((e) => log(`status ${node.name}: ${(e as Error).message}`));
        }
      }, STATUS_REFRESH_MS),
    );

    const pods = makeInformer<V1Pod>(kc, this.client, RESOURCES.pods, {
      onError: (e, wait) => log(`pod watch failed (${(e as Error).message}); retrying in ${wait} ms`),
    });
    pods.on('add', (p) => this.sync(p));
    pods.on('update', (p) => this.sync(p));
    pods.on('delete', (p) => void this.gone(p));
    const refreshHosts = () => writeHostsFiles(this.plan, this.hostEntries(pods.list()));
    pods.on('add', refreshHosts);
    pods.on('update', refreshHosts);
    pods.on('delete', refreshHosts);
    await pods.start();
    refreshHosts();
    log(`watching pods on ${this.plan.nodes.map((n) => n.name).join(', ')}`);

    return async () => {
      for (const t of this.timers) clearInterval(t);
      await pods.stop();
      await Promise.all([...this.runners.values()].map((r) => r.terminate(2)));
    };
  }

  /** Pod DNS names (hostname.subdomain.namespace.svc.domain) for pods on our nodes. */
  private hostEntries(pods: readonly V1Pod[]): HostEntry[] {
    const entries: HostEntry[] = [];
    for (const pod of pods) {
      const node = this.nodesByName.get(pod.spec?.nodeName ?? '');
      const hostname = pod.spec?.hostname;
      const subdomain = pod.spec?.subdomain;
      if (!node || !hostname || !subdomain || pod.metadata?.deletionTimestamp) continue;
      const ns = pod.metadata?.namespace ?? 'default';
      const fqdn = `${hostname}.${subdomain}.${ns}.svc.${this.options.clusterDomain}`;
      entries.push({ address: node.address, names: [fqdn, `${hostname}.${subdomain}.${ns}.svc`] });
    }
    return entries;
  }

  private sync(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    const node = this.nodesByName.get(pod.spec?.nodeName ?? '');
    if (!uid || !node) return;
    const existing = this.runners.get(uid);
    if (pod.metadata?.deletionTimestamp) {
      void this.deleteGracefully(pod, existing);
      return;
    }
    if (existing) {
      existing.update(pod);
      return;
    }
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    const runner = new PodRunner(pod, {
      client: this.client,
      node,
      podDir: path.join(this.options.stateDir, 'pods', `${pod.metadata!.namespace}_${pod.metadata!.name}_${uid}`),
      pathPrepend: [this.binDir],
      onStatus: () => this.writeStatus(pod, runner),
      log,
    });
    this.runners.set(uid, runner);
    log(`pod ${runner.name} bound to ${node.name}: starting`);
    runner.start().catch((e) => log(`pod ${runner.name}: ${(e as Error).message}`));
  }

  private async deleteGracefully(pod: V1Pod, runner: PodRunner | undefined): Promise<void> {
    const uid = pod.metadata!.uid!;
    if (runner) {
      if (!runner.beginDeletion()) return; // already stopping
      const grace = pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
      log(`pod ${runner.name} is being deleted: stopping (grace ${grace} s)`);
      await runner.terminate(grace);
    }
    // The kubelet has the last word on a graceful delete: it removes the object once the containers are gone.
    try {
      await this.client.delete(objectPath(RESOURCES.pods, pod.metadata!.namespace, pod.metadata!.name!), {}, {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        gracePeriodSeconds: 0,
        preconditions: { uid },
      });
    } catch (e) {
      if (!isNotFound(e)) log(`delete ${pod.metadata!.name}: ${(e as Error).message}`);
    }
    this.runners.delete(uid);
  }

  private async gone(pod: V1Pod): Promise<void> {
    const uid = pod.metadata?.uid;
    const runner = uid ? this.runners.get(uid) : undefined;
    if (!runner) return;
    this.runners.delete(uid!);
    log(`pod ${runner.name} was removed: killing its processes`);
    await runner.terminate(0);
  }

  /** One status write in flight per pod; a change meanwhile triggers one more write with the latest state. */
  private writeStatus(pod: V1Pod, runner: PodRunner): void {
    const uid = pod.metadata!.uid!;
    const state = this.statusWrites.get(uid) ?? { running: false, again: false };
    this.statusWrites.set(uid, state);
    if (state.running) {
      state.again = true;
      return;
    }
    state.running = true;
    const path_ = objectPath(RESOURCES.pods, pod.metadata!.namespace, pod.metadata!.name!, 'status');
    const write = async (): Promise<void> => {
      do {
        state.again = false;
        if (!this.runners.has(uid)) break;
        try {
          await this.client.patch(path_, 'strategic', {
            metadata: { uid },
            status: runner.status(),
          });
        } catch (e) {
          if (isNotFound(e)) break;
          log(`pod ${runner.name} status: ${(e as Error).message}`);
          await new Promise((r) => setTimeout(r, 500));
          state.again = true;
        }
      } while (state.again);
      state.running = false;
    };
    void write();
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const kc = new KubeConfig();
  kc.loadFromFile(options.kubeconfig);
  const client = kubeClient(kc);
  const names = Array.from({ length: options.nodes }, (_, i) => `${options.nodePrefix}-${i + 1}`);
  const plan = planNetwork(names, options.subnet, options.netns);
  log(`kubelet stand-in: ${options.nodes} node(s), ${plan.mode} networking, API server ${client.server}`);
  setUpNetwork(plan);
  const standIn = new StandIn(options, client, plan);
  let stop: (() => Promise<void>) | undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping every pod process and removing the nodes' namespaces`);
    if (options.readyFile) rmSync(options.readyFile, { force: true });
    const hardStop = setTimeout(() => process.exit(1), 8000);
    try {
      await stop?.();
    } finally {
      tearDownNetwork(plan);
      clearTimeout(hardStop);
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  try {
    stop = await standIn.run(kc);
  } catch (e) {
    tearDownNetwork(plan);
    throw e;
  }
  if (options.readyFile) writeFileSync(options.readyFile, `${process.pid}\n`);
  log('ready');
}

main().catch((e) => {
  process.stderr.write(`kubelet stand-in failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
