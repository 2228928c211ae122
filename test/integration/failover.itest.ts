// End to end with the real node agent: MuCluster → operator → pods → kubelet stand-in → `mu agent` processes (the
// engine on the soft fabric, one per node network namespace) → /status → MuCluster status. A SIGKILL of the
// leader's agent must show up in status as a new leader and a failover whose detection and permission-switch phases
// were measured by the engine (non-zero µs). Run through hack/test-integration.sh.
import { readdirSync, readlinkSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';
import { LABEL_ROLE } from '../../operator/src/api/labels.js';
import { AGENT_FLAGS } from '../../operator/src/builders/agent-contract.js';
import type { MuCluster } from '../../operator/src/api/types.js';
import { collectionPath, objectPath, RESOURCES } from '../../operator/src/kube/paths.js';
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
const NS = 'it-failover';
const NAME = 'e2e';
let operator: RunningOperator;

// Detector settings for the soft fabric on a loaded 2-core machine (three agents, the control plane and jest share
// it, and other work may too): a READ every 10 ms and a peer failed after ≈28 silent periods. A score moves by one
// per read, up when the heartbeat moved and down when not, so a peer that runs in fewer than half of the periods
// drifts to "failed": with 1 ms periods, three agents on a machine at load 10+ flapped continuously.
const ENGINE = {
  logSizeBytes: 16 << 20,
  heartbeatPeriodMicros: 10_000,
  scoreMax: 30,
  failureThreshold: 2,
  recoveryThreshold: 6,
  stuckReplicationTimeoutMicros: 1_000_000,
  brokenConnectionTimeoutMicros: 1_000_000,
};

/** The pid of a pod's agent: the stand-in runs each container with the pod's own directory
 *  (…/pods/<namespace>_<name>_<uid>) as its working directory, and `ip netns exec` execs the command. */
function agentPid(pod: V1Pod): number | undefined {
  const suffix = `/pods/${pod.metadata!.namespace}_${pod.metadata!.name}_${pod.metadata!.uid}`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`).endsWith(suffix)) return Number(entry);
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}

beforeAll(async () => {
  await installCrd(c);
  await createNamespace(c, NS);
  operator = await startTestOperator({
    namespace: NS,
    identity: 'it-failover',
    leaseNamespace: NS,
    leaseName: 'it-failover',
    agentCommand: ['mu', 'agent'],
  });
  await eventually('the operator to lead', async () => operator.isLeader);
}, 120_000);

afterAll(async () => {
  await operator?.stop();
  await deleteClusters(c, NS);
}, 90_000);

describe('a MuCluster of real agents on the soft fabric', () => {
  let leader: NonNullable<NonNullable<MuCluster['status']>['leader']>;
  let killedUid = '';

  it('becomes Ready with a leader elected by the engine', async () => {
    const started = Date.now();
    await c.create(
      collectionPath(RESOURCES.muClusters, NS),
      muCluster(NS, NAME, { replicas: 3, fabric: 'soft', respPort: 7530, agentPort: 7531, fabricPort: 7532, engine: ENGINE }),
    );
    const ready = await eventually(
      'e2e to be Ready with a leader',
      async () => {
        const cl = await getCluster(c, NS, NAME);
        return condition(cl, 'Ready')?.status === 'True' && cl.status?.leader ? cl : undefined;
      },
      150_000,
      500,
    );
    process.stdout.write(`[it] real agents: apply → Ready in ${Date.now() - started} ms, leader ${ready.status!.leader!.member}\n`);
    leader = ready.status!.leader!;
    expect(ready.status).toMatchObject({ phase: 'Ready', replicas: 3, readyReplicas: 3 });
    const roles = ready.status!.members!.map((m) => m.role).sort();
    expect(roles).toEqual(['follower', 'follower', 'leader']);
    // The leader Service follows the engine's leader through the role label.
    await eventually('the leader role label', async () => {
      const ps = await pods(c, NS, NAME);
      return ps.find((p) => p.metadata?.labels?.[LABEL_ROLE] === 'leader')?.metadata?.name === leader.member;
    });
  }, 180_000);

  it('reports a new leader and the failover timings after the leader is SIGKILLed', async () => {
    expect(leader).toBeDefined();
    const before = await getCluster(c, NS, NAME);
    const failoversBefore = before.status?.failoverCount ?? 0;
    const pod = await c.get<V1Pod>(objectPath(RESOURCES.pods, NS, leader.member));
    // A bootstrap member never restarts in place (it would be a voter with an empty log): the operator replaces it.
    expect(pod.spec!.restartPolicy).toBe('Never');
    killedUid = pod.metadata!.uid!;
    const pid = agentPid(pod);
    expect(pid).toBeDefined();
    const killed = Date.now();
    process.kill(-pid!, 'SIGKILL'); // its process group: everything the container started
    const after = await eventually(
      'a new leader and its failover in status',
      async () => {
        const cl = await getCluster(c, NS, NAME);
        const s = cl.status;
        const f = s?.lastFailover;
        return s?.leader && s.leader.member !== leader.member && f && f.toId === s.leader.id &&
          (s.failoverCount ?? 0) > failoversBefore && (f.detectionMicros ?? 0) > 0 && (f.permissionSwitchMicros ?? 0) > 0
          ? cl
          : undefined;
      },
      60_000,
      250,
    );
    const f = after.status!.lastFailover!;
    process.stdout.write(
      `[it] real agents: SIGKILL of ${leader.member} → status shows ${after.status!.leader!.member} in ` +
        `${Date.now() - killed} ms; failover detection ${f.detectionMicros} µs, permission switch ` +
        `${f.permissionSwitchMicros} µs, catch-up ${f.catchUpMicros} µs, total ${f.totalMicros} µs\n`,
    );
    expect(f.fromId ?? leader.id).toBe(leader.id);
    expect(after.status!.leader!.id).not.toBe(leader.id);
    await eventually('the FailoverCompleted event', async () =>
      (await events(c, NS, NAME)).some((e) => e.reason === 'FailoverCompleted'),
    );
  }, 90_000);

  it('replaces the killed bootstrap member by a new pod that rejoins as a learner: Ready again with three members', async () => {
    const replaced = await eventually('a new pod for the killed member', async () => {
      const p = (await pods(c, NS, NAME)).find((x) => x.metadata!.name === leader.member);
      return p && p.metadata!.uid !== killedUid && p.status?.phase === 'Running' ? p : undefined;
    });
    expect(replaced.spec!.containers[0]!.args).not.toContain(AGENT_FLAGS.bootstrap);
    expect(replaced.spec!.restartPolicy).toBe('Always');
    expect((await events(c, NS, NAME)).some((e) => e.reason === 'MemberFailed' && e.type === 'Warning')).toBe(true);
    const back = await eventually(
      'e2e to be Ready with three ready replicas again',
      async () => {
        const cl = await getCluster(c, NS, NAME);
        return condition(cl, 'Ready')?.status === 'True' && cl.status?.readyReplicas === 3 ? cl : undefined;
      },
      120_000,
      500,
    );
    const roles = back.status!.members!.map((m) => m.role).sort();
    expect(roles).toEqual(['follower', 'follower', 'leader']);
  }, 150_000);
});
