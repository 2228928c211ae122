// Helpers for the integration tests: a client for the dev cluster that hack/test-integration.sh started, the CRD,
// namespaces, polling, and an in-process operator wired to the fake agent. Test-only.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig, type CoreV1Event, type V1CustomResourceDefinition, type V1Pod } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import pino from 'pino';
import { CRD_NAME } from '../../operator/src/api/identity.js';
import type { MuCluster } from '../../operator/src/api/types.js';
import { DEFAULT_BUILDER_OPTIONS } from '../../operator/src/builders/options.js';
import { collectionPath, objectPath, RESOURCES } from '../../operator/src/kube/paths.js';
import { isAlreadyExists, isNotFound, kubeClient, type KubeClient } from '../../operator/src/kube/rest.js';
import { startOperator, type RunningOperator } from '../../operator/src/runtime/operator.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FAKE_AGENT = path.join(ROOT, 'test/integration/fake-agent.mjs');

export function kubeConfig(): KubeConfig {
  const file = process.env.KUBECONFIG;
  if (!file) {
    throw new Error('KUBECONFIG is not set: run the integration tests through hack/test-integration.sh');
  }
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

export function client(): KubeClient {
  return kubeClient(kubeConfig());
}

export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function installCrd(c: KubeClient): Promise<void> {
  const crd = yaml.load(readFileSync(path.join(ROOT, 'crds/mucluster.yaml'), 'utf8')) as V1CustomResourceDefinition;
  try {
    await c.create(collectionPath(RESOURCES.crds), crd);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    const live = await c.get<V1CustomResourceDefinition>(objectPath(RESOURCES.crds, undefined, CRD_NAME));
    await c.replace(objectPath(RESOURCES.crds, undefined, CRD_NAME), { ...crd, metadata: live.metadata });
  }
  await eventually('the MuCluster CRD to be Established', async () => {
    const live = await c.get<V1CustomResourceDefinition>(objectPath(RESOURCES.crds, undefined, CRD_NAME));
    return live.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
  });
  // Established can precede the discovery and storage of the new type by a moment.
  await eventually('the muclusters endpoint', () => c.list(collectionPath(RESOURCES.muClusters, 'default')));
}

export async function createNamespace(c: KubeClient, name: string): Promise<void> {
  try {
    await c.create(collectionPath(RESOURCES.namespaces), { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
  // The controller-manager creates the default ServiceAccount; pods are rejected until it exists.
  await eventually(`ServiceAccount ${name}/default`, () => c.find(`/api/v1/namespaces/${name}/serviceaccounts/default`));
}

export function muCluster(namespace: string, name: string, spec: Record<string, unknown> = {}): object {
  return { apiVersion: 'mu.rdma.dev/v1alpha1', kind: 'MuCluster', metadata: { name, namespace }, spec };
}

export async function getCluster(c: KubeClient, namespace: string, name: string): Promise<MuCluster> {
  return c.get<MuCluster>(objectPath(RESOURCES.muClusters, namespace, name));
}

export async function pods(c: KubeClient, namespace: string, cluster: string): Promise<V1Pod[]> {
  const list = await c.list<V1Pod>(collectionPath(RESOURCES.pods, namespace), {
    labelSelector: `mu.rdma.dev/cluster=${cluster}`,
  });
  return list.items.sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
}

export async function events(c: KubeClient, namespace: string, name: string): Promise<CoreV1Event[]> {
  const list = await c.list<CoreV1Event>(collectionPath(RESOURCES.events, namespace), {
    fieldSelector: `involvedObject.name=${name},involvedObject.kind=MuCluster`,
  });
  return list.items;
}

export function condition(cluster: MuCluster, type: string) {
  return cluster.status?.conditions?.find((x) => x.type === type);
}

export async function deleteIfPresent(c: KubeClient, p: string): Promise<void> {
  try {
    await c.delete(p);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

/** Deletes every MuCluster in namespace and waits until their pods are gone (ports are node-wide resources). */
export async function deleteClusters(c: KubeClient, namespace: string): Promise<void> {
  const list = await c.list<MuCluster>(collectionPath(RESOURCES.muClusters, namespace));
  for (const cl of list.items) await deleteIfPresent(c, objectPath(RESOURCES.muClusters, namespace, cl.metadata.name));
  await eventually(
    `the replica pods in ${namespace} to be gone`,
    async () => {
      const pods = await c.list<V1Pod>(collectionPath(RESOURCES.pods, namespace), { labelSelector: 'mu.rdma.dev/cluster' });
      return pods.items.length === 0;
    },
    60_000,
    500,
  );
}

export interface TestOperatorOptions {
  namespace?: string;
  identity: string;
  leaseNamespace: string;
  leaseName?: string;
  /** Short lease timings for election tests. */
  fastLease?: boolean;
  manageCrd?: boolean;
  /** The agent the pods run: the fake agent by default; `['mu', 'agent']` for the real one (the stand-in puts
   *  the repository's `mu` on the pods' PATH). */
  agentCommand?: readonly string[];
}

export async function startTestOperator(o: TestOperatorOptions): Promise<RunningOperator> {
  const logger = pino({ level: process.env.MU_IT_LOG_LEVEL ?? 'warn', base: { operator: o.identity } });
  return startOperator({
    kubeConfig: kubeConfig(),
    ...(o.namespace ? { namespace: o.namespace } : {}),
    lease: {
      namespace: o.leaseNamespace,
      name: o.leaseName ?? 'mu-operator',
      ...(o.fastLease ? { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 500 } : { retryPeriodMs: 500 }),
    },
    identity: o.identity,
    listen: { host: '127.0.0.1', port: 0 },
    workers: 2,
    watchNodes: true,
    settings: {
      builder: { ...DEFAULT_BUILDER_OPTIONS, agentCommand: o.agentCommand ?? ['node', FAKE_AGENT] },
      membershipChanges: false,
      pollIntervalMs: 1000,
      fieldManager: 'mu-operator',
    },
    manageCrd: o.manageCrd ?? false,
    logger,
  });
}
