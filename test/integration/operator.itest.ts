// The operator against a real kube-apiserver, etcd, controller-manager and scheduler (hack/dev-cluster.sh), with
// the kubelet stand-in running each replica pod's command — here the fake agent — as a process in its node's
// network namespace. Run through hack/test-integration.sh, which starts and stops the control plane.
import type { V1ConfigMap, V1Pod, V1PodDisruptionBudget, V1Secret, V1Service } from '@kubernetes/client-node';
import { ANNOTATION_RECONCILIATION_PAUSED, LABEL_ROLE } from '../../operator/src/api/labels.js';
import { AGENT_FLAGS } from '../../operator/src/builders/agent-contract.js';
import { objectPath, collectionPath, RESOURCES } from '../../operator/src/kube/paths.js';
import { KubeApiError } from '../../operator/src/kube/rest.js';
import type { RunningOperator } from '../../operator/src/runtime/operator.js';
import {
  client,
  condition,
  createNamespace,
  deleteClusters,
  eventually,
  events,
  getCluster,
  installCrd,
  muCluster,
  pods,
  startTestOperator,
} from './harness.js';

const c = client();
const NS = 'it-reconcile';
const OPS = 'it-operators';
let operator: RunningOperator;

beforeAll(async () => {
  await installCrd(c);
  await createNamespace(c, NS);
  await createNamespace(c, OPS);
  operator = await startTestOperator({
    namespace: NS,
    identity: 'it-main',
    leaseNamespace: OPS,
    leaseName: 'it-main',
    manageCrd: true,
  });
  await eventually('the operator to lead', async () => operator.isLeader);
}, 120_000);

afterAll(async () => {
  await operator?.stop();
  await deleteClusters(c, NS);
}, 90_000);

async function rejected(body: object): Promise<KubeApiError> {
  try {
    await c.create(collectionPath(RESOURCES.muClusters, NS), body);
  } catch (e) {
    if (e instanceof KubeApiError) return e;
    throw e;
  }
  throw new Error('the API server accepted an invalid MuCluster');
}

describe('CRD validation by the API server', () => {
  it.each([
    [{ replicas: 4 }, /spec\.replicas must be odd/],
    [{ replicas: 11 }, /spec\.replicas.*less than or equal to 9/],
    [{ fabric: 'carrier-pigeon' }, /spec\.fabric.*Unsupported value: "carrier-pigeon"/],
    [{ rdma: { gidIndex: 300 } }, /spec\.rdma\.gidIndex must be "auto" or an integer from 0 to 255/],
    [{ engine: { logSizeBytes: 1000 } }, /spec\.engine\.logSizeBytes must be a multiple of 4096/],
    [{ respPort: 8790 }, /spec\.respPort, spec\.agentPort and spec\.fabricPort must differ/],
  ])('rejects spec %j naming the field', async (spec, message) => {
    const e = await rejected(muCluster(NS, 'bad', spec));
    expect(e.statusCode).toBe(422);
    expect(e.serverMessage).toMatch(message);
  });

  it('rejects a name too long for the derived object names', async () => {
    const e = await rejected(muCluster(NS, 'x'.repeat(53)));
    expect(e.serverMessage).toMatch(/metadata\.name must be at most 52 characters/);
  });

  it('fills defaults and guards immutable fields on update', async () => {
    const created = (await c.create(
      collectionPath(RESOURCES.muClusters, NS),
      muCluster(NS, 'immutable', { fabric: 'soft', replicas: 1 }),
    )) as { spec: Record<string, unknown> };
    expect(created.spec).toMatchObject({ replicas: 1, respPort: 6379, agentPort: 8790, updateStrategy: { type: 'RollingUpdate' } });
    try {
      await c.patch(objectPath(RESOURCES.muClusters, NS, 'immutable'), 'merge', { spec: { fabric: 'verbs' } });
      throw new Error('the API server accepted a change of spec.fabric');
    } catch (e) {
      expect((e as KubeApiError).serverMessage).toMatch(/spec\.fabric is immutable/);
    }
    await c.delete(objectPath(RESOURCES.muClusters, NS, 'immutable'));
  });
});

describe('the CRD on upgrade', () => {
  it('is applied by the leading operator (server-side apply, field manager mu-operator)', async () => {
    const crd = await eventually('the operator to apply the CRD', async () => {
      const x = await c.get<{ metadata: { managedFields?: Array<{ manager: string; operation: string }> } }>(
        objectPath(RESOURCES.crds, undefined, 'muclusters.mu.rdma.dev'),
      );
      return x.metadata.managedFields?.some((f) => f.manager === 'mu-operator' && f.operation === 'Apply') ? x : undefined;
    });
    expect(crd).toBeDefined();
  });
});

describe('reconciling a MuCluster', () => {
  const name = 'demo';

  it('creates the owned objects, runs the pods on three RDMA nodes and reports Ready with a leader', async () => {
    const started = Date.now();
    await c.create(collectionPath(RESOURCES.muClusters, NS), muCluster(NS, name, { replicas: 3 }));
    const ready = await eventually(
      'demo to be Ready',
      async () => {
        const cl = await getCluster(c, NS, name);
        return condition(cl, 'Ready')?.status === 'True' ? cl : undefined;
      },
      90_000,
    );
    process.stdout.write(`[it] MuCluster demo: apply → Ready in ${Date.now() - started} ms\n`);
    const uid = ready.metadata.uid;
    expect(ready.status).toMatchObject({
      phase: 'Ready',
      replicas: 3,
      readyReplicas: 3,
      observedGeneration: ready.metadata.generation,
      selector: 'mu.rdma.dev/cluster=demo,app.kubernetes.io/component=replica',
      leader: { member: 'demo-0', id: 0 },
    });
    expect(ready.status?.bootstrappedAt).toBeDefined();
    expect(condition(ready, 'Available')).toMatchObject({ status: 'True', reason: 'QuorumAvailable' });
    expect(condition(ready, 'Degraded')).toMatchObject({ status: 'False' });

    const owned = async <T extends { metadata?: { ownerReferences?: Array<{ uid: string; controller?: boolean }> } }>(
      p: string,
    ) => {
      const o = await c.get<T>(p);
      expect(o.metadata?.ownerReferences).toEqual([expect.objectContaining({ uid, controller: true, kind: 'MuCluster' })]);
      return o;
    };
    await owned<V1Secret>(objectPath(RESOURCES.secrets, NS, 'demo-fabric-key'));
    const cm = await owned<V1ConfigMap>(objectPath(RESOURCES.configMaps, NS, 'demo-config'));
    expect(JSON.parse(cm.data!['cluster.json']!).members).toHaveLength(3);
    const members = await owned<V1Service>(objectPath(RESOURCES.services, NS, 'demo-members'));
    expect(members.spec?.clusterIP).toBe('None');
    const leaderSvc = await owned<V1Service>(objectPath(RESOURCES.services, NS, 'demo-leader'));
    expect(leaderSvc.spec?.selector).toMatchObject({ [LABEL_ROLE]: 'leader' });
    const pdb = await owned<V1PodDisruptionBudget>(objectPath(RESOURCES.podDisruptionBudgets, NS, 'demo'));
    expect(pdb.spec?.maxUnavailable).toBe(1);

    const ps = await pods(c, NS, name);
    expect(ps.map((p) => p.metadata!.name)).toEqual(['demo-0', 'demo-1', 'demo-2']);
    for (const p of ps) {
      expect(p.metadata?.ownerReferences?.[0]?.uid).toBe(uid);
      expect(p.spec!.containers[0]!.args).toContain(AGENT_FLAGS.bootstrap);
      expect(p.status?.phase).toBe('Running');
    }
    // The real scheduler honoured the required anti-affinity: one replica per node.
    expect(new Set(ps.map((p) => p.spec!.nodeName)).size).toBe(3);
    // Host networking: each pod has its node's address.
    expect(new Set(ps.map((p) => p.status!.podIP)).size).toBe(3);
    await eventually('the role labels', async () => {
      const labels = (await pods(c, NS, name)).map((p) => p.metadata?.labels?.[LABEL_ROLE]);
      return labels.join(',') === 'leader,follower,follower';
    });

    const reasons = (await events(c, NS, name)).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['MemberCreated', 'LeaderElected']));
  }, 120_000);

  it('never rotates the fabric key', async () => {
    const before = await c.get<V1Secret>(objectPath(RESOURCES.secrets, NS, 'demo-fabric-key'));
    await c.patch(objectPath(RESOURCES.muClusters, NS, name), 'merge', { metadata: { labels: { touched: 'yes' } } });
    await new Promise((r) => setTimeout(r, 2500));
    const after = await c.get<V1Secret>(objectPath(RESOURCES.secrets, NS, 'demo-fabric-key'));
    expect(after.data).toEqual(before.data);
    expect(after.metadata?.uid).toBe(before.metadata?.uid);
    expect(after.immutable).toBe(true);
  });

  it('refuses a change of membership with a condition and a Warning event, keeping the three members', async () => {
    await c.patch(objectPath(RESOURCES.muClusters, NS, name), 'merge', { spec: { replicas: 5 } });
    const refused = await eventually('the ScalingNotSupported condition', async () => {
      const cl = await getCluster(c, NS, name);
      const degraded = condition(cl, 'Degraded');
      return degraded?.reason === 'ScalingNotSupported' && cl.status?.observedGeneration === cl.metadata.generation
        ? cl
        : undefined;
    });
    expect(condition(refused, 'Degraded')).toMatchObject({
      status: 'True',
      message: expect.stringMatching(/spec\.replicas is 5.*keeps its 3 members/),
    });
    expect(refused.status?.replicas).toBe(3);
    expect((await pods(c, NS, name)).length).toBe(3);
    expect((await events(c, NS, name)).some((e) => e.reason === 'ScalingNotSupported' && e.type === 'Warning')).toBe(
      true,
    );
    await c.patch(objectPath(RESOURCES.muClusters, NS, name), 'merge', { spec: { replicas: 3 } });
    await eventually('Degraded to clear', async () => condition(await getCluster(c, NS, name), 'Degraded')?.status === 'False');
  }, 60_000);

  it('changes nothing while paused, and replaces a lost pod without --bootstrap once resumed', async () => {
    await c.patch(objectPath(RESOURCES.muClusters, NS, name), 'merge', {
      metadata: { annotations: { [ANNOTATION_RECONCILIATION_PAUSED]: 'true' } },
    });
    await eventually('the ReconciliationPaused condition', async () => {
      return condition(await getCluster(c, NS, name), 'ReconciliationPaused')?.status === 'True';
    });
    const lost = (await pods(c, NS, name)).find((p) => p.metadata!.name === 'demo-2')!;
    await c.delete(objectPath(RESOURCES.pods, NS, 'demo-2'));
    await eventually('demo-2 to be gone', async () => !(await pods(c, NS, name)).some((p) => p.metadata?.uid === lost.metadata?.uid));
    await new Promise((r) => setTimeout(r, 2500));
    expect((await pods(c, NS, name)).map((p) => p.metadata!.name)).toEqual(['demo-0', 'demo-1']);

    await c.patch(objectPath(RESOURCES.muClusters, NS, name), 'merge', {
      metadata: { annotations: { [ANNOTATION_RECONCILIATION_PAUSED]: null } },
    });
    const replacement = await eventually('a replacement demo-2', async () =>
      (await pods(c, NS, name)).find((p) => p.metadata!.name === 'demo-2' && p.status?.phase === 'Running'),
    );
    expect(replacement.spec!.containers[0]!.args).not.toContain(AGENT_FLAGS.bootstrap);
    await eventually('Ready again', async () => condition(await getCluster(c, NS, name), 'Ready')?.status === 'True', 60_000);
  }, 90_000);

  it('rolls a settings change through the pods one at a time, followers first and the leader last', async () => {
    const before = new Map((await pods(c, NS, name)).map((p) => [p.metadata!.name!, p.metadata!.uid!]));
    await c.patch(objectPath(RESOURCES.muClusters, NS, name), 'merge', { spec: { engine: { heartbeatPeriodMicros: 80 } } });
    await eventually(
      'every pod replaced and Ready',
      async () => {
        const cl = await getCluster(c, NS, name);
        const ps = await pods(c, NS, name);
        const allNew = ps.length === 3 && ps.every((p) => before.get(p.metadata!.name!) !== p.metadata!.uid);
        return allNew && cl.status?.observedGeneration === cl.metadata.generation && condition(cl, 'Ready')?.status === 'True';
      },
      120_000,
      500,
    );
    const rolled = (await events(c, NS, name))
      .filter((e) => e.reason === 'RollingUpdate')
      // resourceVersion orders writes; timestamps have only second precision.
      .sort((a, b) => Number(a.metadata?.resourceVersion) - Number(b.metadata?.resourceVersion))
      .map((e) => /replacing (demo-\d)/.exec(e.message ?? '')?.[1]);
    expect(rolled).toEqual(['demo-1', 'demo-2', 'demo-0']);
  }, 150_000);

  it('reports too few RDMA nodes as NodeNotRDMACapable (condition and Warning event)', async () => {
    // Other ports than demo's: host networking makes equal ports a scheduling conflict on a shared node.
    await c.create(
      collectionPath(RESOURCES.muClusters, NS),
      muCluster(NS, 'wide', { replicas: 7, respPort: 7379, agentPort: 9790, fabricPort: 9791 }),
    );
    // Degraded names the problem in its reason — or, once the three replicas that fit elect a leader without a
    // majority of seven, QuorumLost outranks it and the problem rides along in the message.
    const cl = await eventually('the NodeNotRDMACapable condition', async () => {
      const x = await getCluster(c, NS, 'wide');
      const degraded = condition(x, 'Degraded');
      return degraded?.status === 'True' && /NodeNotRDMACapable|match feature/.test(`${degraded.reason} ${degraded.message}`)
        ? x
        : undefined;
    });
    expect(condition(cl, 'Degraded')?.message).toMatch(/3 Ready node\(s\) match feature\.node\.kubernetes\.io\/rdma\.capable=true/);
    expect((await events(c, NS, 'wide')).some((e) => e.reason === 'NodeNotRDMACapable' && e.type === 'Warning')).toBe(true);
    // The scheduler keeps what does not fit Pending.
    await eventually('4 pods unschedulable', async () => {
      const ps = await pods(c, NS, 'wide');
      const pending = ps.filter((p: V1Pod) =>
        p.status?.conditions?.some((x) => x.type === 'PodScheduled' && x.status === 'False'),
      );
      return pending.length === 4;
    });
  }, 60_000);

  it('deleting the MuCluster garbage-collects what it owned', async () => {
    await c.delete(objectPath(RESOURCES.muClusters, NS, 'wide'));
    await eventually(
      'the pods of "wide" to be collected',
      async () => (await pods(c, NS, 'wide')).length === 0,
      60_000,
      500,
    );
    const leftovers = await c.list(collectionPath(RESOURCES.configMaps, NS), { labelSelector: 'mu.rdma.dev/cluster=wide' });
    expect(leftovers.items).toEqual([]);
  }, 90_000);

  it('reports an agent that cannot start for lack of locked memory as MemlockTooLow (condition and Warning event)', async () => {
    await c.create(
      collectionPath(RESOURCES.muClusters, NS),
      muCluster(NS, 'pinned', {
        replicas: 1, fabric: 'verbs', respPort: 7400, agentPort: 9800, fabricPort: 9801,
        engine: { logSizeBytes: 256 << 20 },
      }),
    );
    const cl = await eventually('the MemlockTooLow condition', async () => {
      const x = await getCluster(c, NS, 'pinned');
      const degraded = condition(x, 'Degraded');
      return degraded?.status === 'True' && /MemlockTooLow/.test(`${degraded.reason} ${degraded.message}`) ? x : undefined;
    }, 60_000, 500);
    expect(condition(cl, 'Degraded')?.message).toMatch(/pinned-0: MemlockTooLow: the verbs fabric pins about 264\.0 MiB/);
    const warning = (await events(c, NS, 'pinned')).find((e) => e.reason === 'MemlockTooLow');
    expect(warning).toMatchObject({ type: 'Warning', message: expect.stringMatching(/^pinned-0: MemlockTooLow: .*CAP_IPC_LOCK/) });
    // What the stand-in (as kubelet) reported: the agent's own words in the pod status.
    // (The operator replaces a finished bootstrap pod, so look for whichever pinned-0 exists with an exit reported.)
    const message = await eventually('the termination message in pinned-0\'s status', async () => {
      const agent = (await pods(c, NS, 'pinned')).find((p) => p.metadata!.name === 'pinned-0')?.status?.containerStatuses?.[0];
      return agent?.state?.terminated?.message ?? agent?.lastState?.terminated?.message;
    });
    expect(message).toMatch(/^MemlockTooLow: /);
    await c.delete(objectPath(RESOURCES.muClusters, NS, 'pinned'));
  }, 90_000);
});
