// Two operator instances against one API server: exactly one holds the coordination.k8s.io Lease and reconciles;
// when it stops, the other takes over and reconciles.
import type { V1Lease } from '@kubernetes/client-node';
import { collectionPath, objectPath, RESOURCES } from '../../operator/src/kube/paths.js';
import type { RunningOperator } from '../../operator/src/runtime/operator.js';
import {
  client,
  condition,
  createNamespace,
  eventually,
  getCluster,
  installCrd,
  deleteClusters,
  muCluster,
  startTestOperator,
} from './harness.js';

const c = client();
const NS = 'it-election';
const LEASE = 'it-election';
const running: RunningOperator[] = [];

beforeAll(async () => {
  await installCrd(c);
  await createNamespace(c, NS);
}, 60_000);

afterAll(async () => {
  await Promise.all(running.map((o) => o.stop()));
  // Host networking makes ports node-wide: leave no replica behind for the next test file.
  await deleteClusters(c, NS);
}, 60_000);

/** Ports of its own per cluster: host networking makes equal ports a scheduling conflict on a shared node. */
function ports(base: number) {
  return { respPort: base, agentPort: base + 1, fabricPort: base + 2 };
}

async function holder(): Promise<string | undefined> {
  const lease = await c.find<V1Lease>(objectPath(RESOURCES.leases, NS, LEASE));
  return lease?.spec?.holderIdentity ?? undefined;
}

it('one of two instances leads; the other takes over when it stops, and reconciles', async () => {
  const a = await startTestOperator({ namespace: NS, identity: 'op-a', leaseNamespace: NS, leaseName: LEASE, fastLease: true });
  const b = await startTestOperator({ namespace: NS, identity: 'op-b', leaseNamespace: NS, leaseName: LEASE, fastLease: true });
  running.push(a, b);
  const first = await eventually('a leader', async () => [a, b].find((o) => o.isLeader));
  const second = first === a ? b : a;
  // Give the standby several retry periods: it must stay a standby while the leader renews.
  await new Promise((r) => setTimeout(r, 3000));
  expect([a, b].filter((o) => o.isLeader)).toEqual([first]);
  expect(await holder()).toBe(first.identity);
  const transitionsBefore = (await c.get<V1Lease>(objectPath(RESOURCES.leases, NS, LEASE))).spec?.leaseTransitions ?? 0;

  await c.create(collectionPath(RESOURCES.muClusters, NS), muCluster(NS, 'one', { replicas: 1, fabric: 'soft', ...ports(7400) }));
  await eventually('the leader to reconcile "one"', async () => (await getCluster(c, NS, 'one')).status?.bootstrappedAt);

  const stoppedAt = Date.now();
  await first.stop();
  running.splice(running.indexOf(first), 1);
  await eventually('the standby to take over', async () => second.isLeader, 15_000, 100);
  process.stdout.write(`[it] operator Lease handover after a clean stop: ${Date.now() - stoppedAt} ms\n`);
  expect(await holder()).toBe(second.identity);
  const lease = await c.get<V1Lease>(objectPath(RESOURCES.leases, NS, LEASE));
  expect(lease.spec?.leaseTransitions).toBe(transitionsBefore + 1);

  // The new leader works: a cluster created now is reconciled to Ready.
  await c.create(collectionPath(RESOURCES.muClusters, NS), muCluster(NS, 'two', { replicas: 1, fabric: 'soft', ...ports(7410) }));
  await eventually(
    '"two" to be Ready under the new leader',
    async () => condition(await getCluster(c, NS, 'two'), 'Ready')?.status === 'True',
    60_000,
  );
}, 120_000);
