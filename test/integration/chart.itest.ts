// The Helm chart: lint, values schema, and the rendered objects applied to the real API server — then the operator
// run with nothing but the chart's RBAC (a token of the chart's ServiceAccount), reconciling a MuCluster to Ready.
// hack/test-integration.sh builds Helm (hack/helm.sh) and passes its path in MU_HELM.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import pino from 'pino';
import { DEFAULT_BUILDER_OPTIONS } from '../../operator/src/builders/options.js';
import { collectionPath, objectPath, type ResourceType } from '../../operator/src/kube/paths.js';
import { RESOURCES } from '../../operator/src/kube/paths.js';
import { isAlreadyExists, KubeApiError, kubeClient } from '../../operator/src/kube/rest.js';
import { startOperator, type RunningOperator } from '../../operator/src/runtime/operator.js';
import {
  client,
  condition,
  createNamespace,
  deleteClusters,
  eventually,
  FAKE_AGENT,
  getCluster,
  installCrd,
  kubeConfig,
  muCluster,
  ROOT,
} from './harness.js';

const CHART = path.join(ROOT, 'charts/mu-operator');
const RELEASE_NS = 'mu-system';
const APP_NS = 'it-chart';
const c = client();
let operator: RunningOperator | undefined;

function helm(...args: string[]): string {
  const bin = process.env.MU_HELM;
  if (!bin) throw new Error('MU_HELM is not set: run the integration tests through hack/test-integration.sh');
  return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function helmFails(...args: string[]): string {
  try {
    helm(...args);
  } catch (e) {
    return String((e as { stderr?: string }).stderr ?? e);
  }
  throw new Error(`helm ${args.join(' ')} succeeded`);
}

/** Where each kind the chart renders lives in the API. */
const KINDS: Record<string, ResourceType> = {
  ServiceAccount: { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true },
  ClusterRole: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'clusterrolebindings',
    namespaced: false,
  },
  Role: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', namespaced: true },
  RoleBinding: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespaced: true },
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
};

beforeAll(async () => {
  await installCrd(c);
  await createNamespace(c, RELEASE_NS);
  await createNamespace(c, APP_NS);
}, 60_000);

afterAll(async () => {
  await operator?.stop();
  await deleteClusters(c, APP_NS);
}, 90_000);

describe('the Helm chart', () => {
  it('lints clean, strict', () => {
    expect(helm('lint', '--strict', CHART)).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('rejects values the schema does not allow, naming them', () => {
    expect(helmFails('template', 'mu-operator', CHART, '--set', 'replicaCount=0')).toMatch(/replicaCount/);
    expect(helmFails('template', 'mu-operator', CHART, '--set', 'operator.logLevel=loud')).toMatch(/logLevel/);
    expect(helmFails('template', 'mu-operator', CHART, '--set', 'nonsense=1')).toMatch(/nonsense/);
  });

  it('renders a Role instead of the managed ClusterRole when watching one namespace', () => {
    const docs = yaml.loadAll(
      helm('template', 'mu-operator', CHART, '--namespace', RELEASE_NS, '--set', `watchNamespace=${APP_NS}`),
    ) as KubernetesObject[];
    const kinds = docs.filter(Boolean).map((d) => `${d.kind}/${d.metadata?.name}`);
    expect(kinds).toEqual(expect.arrayContaining(['Role/mu-operator-managed', 'ClusterRole/mu-operator-cluster']));
    expect(kinds).not.toContain('ClusterRole/mu-operator-managed');
    const deployment = docs.find((d) => d?.kind === 'Deployment') as { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } };
    expect(deployment.spec.template.spec.containers[0]!.args).toContain(`--namespace=${APP_NS}`);
  });

  it('applies to the API server, and its RBAC is all the operator needs to reconcile a cluster to Ready', async () => {
    const docs = (yaml.loadAll(helm('template', 'mu-operator', CHART, '--namespace', RELEASE_NS)) as KubernetesObject[]).filter(
      Boolean,
    );
    for (const doc of docs) {
      const type = KINDS[doc.kind!];
      if (!type) throw new Error(`the test does not know where ${doc.kind} lives`);
      // The Deployment would need a container runtime: the API server validates it (dry run) but does not store it.
      const query = doc.kind === 'Deployment' ? { dryRun: 'All' } : {};
      try {
        await c.create(collectionPath(type, doc.metadata?.namespace ?? RELEASE_NS), doc, query);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    }

    // A token of the chart's ServiceAccount: the operator below runs with exactly the chart's permissions.
    const request = await c.request<{ status: { token: string } }>(
      'POST',
      objectPath(KINDS.ServiceAccount!, RELEASE_NS, 'mu-operator', 'token'),
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } } },
    );
    const admin = kubeConfig();
    const cluster = admin.getCurrentCluster()!;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'dev', server: cluster.server, caData: cluster.caData, skipTLSVerify: false }],
      users: [{ name: 'mu-operator', token: request.status.token }],
      contexts: [{ name: 'dev', cluster: 'dev', user: 'mu-operator' }],
      currentContext: 'dev',
    });
    const forbidden: string[] = [];
    const logger = pino({ level: 'warn' }, {
      write: (line: string) => {
        if (/Forbidden|forbidden|403/.test(line)) forbidden.push(line);
      },
    });
    operator = await startOperator({
      kubeConfig: kc,
      lease: { namespace: RELEASE_NS, name: 'mu-operator', retryPeriodMs: 500 },
      identity: 'chart-sa',
      listen: null,
      workers: 2,
      watchNodes: true,
      manageCrd: true,
      settings: {
        builder: { ...DEFAULT_BUILDER_OPTIONS, agentCommand: ['node', FAKE_AGENT] },
        membershipChanges: false,
        pollIntervalMs: 1000,
        fieldManager: 'mu-operator',
      },
      logger,
    });
    await eventually('the chart-RBAC operator to lead', async () => operator!.isLeader);
    await c.create(
      collectionPath(RESOURCES.muClusters, APP_NS),
      muCluster(APP_NS, 'rbac', { replicas: 3, respPort: 7420, agentPort: 7421, fabricPort: 7422 }),
    );
    await eventually(
      'MuCluster rbac to be Ready under the chart RBAC',
      async () => condition(await getCluster(c, APP_NS, 'rbac'), 'Ready')?.status === 'True',
      90_000,
    );
    expect(forbidden).toEqual([]);

    // And nothing more: the same identity cannot delete a Node or a ConfigMap (owner references do that).
    const limited = kubeClient(kc);
    for (const p of [
      objectPath(RESOURCES.nodes, undefined, 'mu-node-1'),
      objectPath(RESOURCES.configMaps, APP_NS, 'rbac-config'),
    ]) {
      const e = await limited.delete(p).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(KubeApiError);
      expect((e as KubeApiError).statusCode).toBe(403);
    }
  }, 150_000);
});
