// End to end with the real node agent: MuCluster → operator → pods → kubelet stand-in → `mu agent` processes (the
// engine on the soft fabric, one per node network namespace) → /status → MuCluster status. A SIGKILL of the
// leader's agent must show up in status as a new leader and a failover whose detection and permission-switch phases
// were measured by the engine (non-zero µs). A rolling update under a write load must replace every pod, the leader
// last after a switchover, without losing quorum or an acknowledged write. Run through hack/test-integration.sh.
import { readdirSync, readlinkSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { ANNOTATION_SWITCHOVER_TO, LABEL_ROLE } from '../../operator/src/api/labels.js';
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

  it('rolls a settings change under a write load: followers first, the leader last after a switchover, quorum kept, no acknowledged write lost', async () => {
    const before = await getCluster(c, NS, NAME);
    const oldLeader = before.status!.leader!;
    const uids = new Map((await pods(c, NS, NAME)).map((p) => [p.metadata!.name!, p.metadata!.uid!]));

    // One writer, one SET at a time, always to whoever the status names leader; an error (connection refused while
    // a pod is replaced, a follower's redirect) re-resolves the leader and retries the same key. A SET acknowledged
    // is recorded; each must read back after the rollout.
    const acked = new Map<string, string>();
    let errors = 0;
    let longestGapMs = 0;
    let stop = false;
    const leaderAddress = async (): Promise<string | undefined> => {
      const cl = await getCluster(c, NS, NAME);
      const member = cl.status?.leader?.member;
      if (!member) return undefined;
      return (await c.get<V1Pod>(objectPath(RESOURCES.pods, NS, member))).status?.podIP;
    };
    const connect = (host: string) =>
      new Redis({ host, port: 7530, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false,
        retryStrategy: () => null, connectTimeout: 1000, commandTimeout: 2000 });
    const writer = (async () => {
      let redis: Redis | undefined;
      let lastAck = Date.now();
      for (let i = 0; !stop; ) {
        try {
          if (!redis) {
            const host = await leaderAddress();
            if (!host) throw new Error('no leader in status');
            redis = connect(host);
            await redis.connect();
          }
          const key = `roll-${i}`;
          const value = `v${i}-${Date.now()}`;
          if ((await redis.set(key, value)) !== 'OK') throw new Error(`SET ${key} answered otherwise`);
          acked.set(key, value);
          longestGapMs = Math.max(longestGapMs, Date.now() - lastAck);
          lastAck = Date.now();
          i++;
        } catch {
          errors++;
          redis?.disconnect();
          redis = undefined;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      redis?.disconnect();
    })();

    // A majority of the members must stay Ready throughout (sampled from the pods' Ready conditions).
    let fewestReady = 3;
    const readyCount = (ps: V1Pod[]) =>
      ps.filter((p) => p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')).length;
    const started = Date.now();
    await eventually('a few writes before the rollout', async () => acked.size >= 20, 30_000, 100);
    await c.patch(objectPath(RESOURCES.muClusters, NS, NAME), 'merge', {
      spec: { engine: { stuckReplicationTimeoutMicros: 1_500_000 } },
    });
    const ackedAtPatch = acked.size;
    try {
      await eventually(
        'every pod replaced and Ready under the new spec',
        async () => {
          const ps = await pods(c, NS, NAME);
          fewestReady = Math.min(fewestReady, readyCount(ps));
          const cl = await getCluster(c, NS, NAME);
          const allNew = ps.length === 3 && ps.every((p) => uids.get(p.metadata!.name!) !== p.metadata!.uid);
          return allNew && cl.status?.observedGeneration === cl.metadata.generation &&
            condition(cl, 'Ready')?.status === 'True' && cl.status?.readyReplicas === 3;
        },
        240_000,
        200,
      );
      // Writes go on after the rollout too: the cluster serves under its new leader.
      const afterRollout = acked.size;
      await eventually('writes after the rollout', async () => acked.size >= afterRollout + 20, 30_000, 100);
    } finally {
      stop = true;
      await writer;
    }

    const rolling = (await events(c, NS, NAME))
      .filter((e) => e.reason === 'RollingUpdate')
      .sort((a, b) => Number(a.metadata?.resourceVersion) - Number(b.metadata?.resourceVersion))
      .map((e) => e.message ?? '');
    process.stdout.write(
      `[it] real agents: rolling update in ${Date.now() - started} ms with ${acked.size} acknowledged SETs ` +
        `(${acked.size - ackedAtPatch} after the patch), ${errors} retried, longest gap between acks ${longestGapMs} ms, ` +
        `fewest Ready pods ${fewestReady}\n${rolling.map((m) => `[it]   RollingUpdate: ${m}`).join('\n')}\n`,
    );
    const replaced = rolling.map((m) => /^replacing (e2e-\d)/.exec(m)?.[1]).filter((x) => x !== undefined);
    // Every member replaced once, the old leader last, and only after it was asked to hand over.
    expect([...replaced].sort()).toEqual(['e2e-0', 'e2e-1', 'e2e-2']);
    expect(replaced[2]).toBe(oldLeader.member);
    const askedAt = rolling.findIndex((m) => m.startsWith(`asked ${oldLeader.member} (leader) to hand leadership to`));
    expect(askedAt).toBeGreaterThanOrEqual(0);
    expect(askedAt).toBeLessThan(rolling.findIndex((m) => m.startsWith(`replacing ${oldLeader.member}`)));
    expect(rolling.join('\n')).not.toMatch(/the engine fails over/); // the handover worked; no fallback
    expect(fewestReady).toBeGreaterThanOrEqual(2);
    const quorumLost = (await events(c, NS, NAME))
      .filter((e) => e.reason === 'QuorumLost')
      .map((e) => `${e.lastTimestamp ?? e.eventTime} ×${e.count ?? 1}: ${e.message}`);
    expect(quorumLost).toEqual([]);

    const after = await getCluster(c, NS, NAME);
    expect(after.status!.leader!.member).not.toBe(oldLeader.member);
    expect((after.status!.failoverHistory ?? []).map((f) => f.reason)).toContain('Switchover');

    // Every acknowledged write reads back from the new leader.
    const redis = connect((await leaderAddress())!);
    await redis.connect();
    try {
      // In chunks: a request goes through the log as one entry, and entries are bounded (≈64 KiB).
      const keys = [...acked.keys()];
      const lost: string[] = [];
      for (let i = 0; i < keys.length; i += 500) {
        const chunk = keys.slice(i, i + 500);
        const values = await redis.mget(...chunk);
        lost.push(...chunk.filter((k, j) => values[j] !== acked.get(k)));
      }
      expect(lost).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 330_000);

  it('moves leadership to the member `kubectl mu switchover` names (the annotation), then clears the request', async () => {
    const before = await getCluster(c, NS, NAME);
    const from = before.status!.leader!.member;
    const to = ['e2e-0', 'e2e-1', 'e2e-2'].filter((m) => m !== from).sort().at(-1)!; // not the lowest id: only a switchover makes it lead
    const asked = Date.now();
    await c.patch(objectPath(RESOURCES.muClusters, NS, NAME), 'merge', { metadata: { annotations: { [ANNOTATION_SWITCHOVER_TO]: to } } });
    const after = await eventually(
      `${to} to lead and the request to be cleared`,
      async () => {
        const cl = await getCluster(c, NS, NAME);
        return cl.status?.leader?.member === to && !cl.metadata.annotations?.[ANNOTATION_SWITCHOVER_TO] && !cl.status?.targetLeader
          ? cl
          : undefined;
      },
      60_000,
      250,
    );
    process.stdout.write(`[it] real agents: switchover ${from} → ${to} shown in status in ${Date.now() - asked} ms\n`);
    expect(after.status!.lastFailover).toMatchObject({ reason: 'Switchover', toId: after.status!.leader!.id });
    const reasons = (await events(c, NS, NAME)).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['SwitchoverRequested', 'SwitchoverCompleted']));
    // Leadership stays where it was asked to be (the preferred leader outranks the lowest id).
    await new Promise((r) => setTimeout(r, 3000));
    expect((await getCluster(c, NS, NAME)).status!.leader!.member).toBe(to);
  }, 90_000);
});
