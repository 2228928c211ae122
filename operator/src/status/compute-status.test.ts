import type { Condition, MuClusterStatus } from '../api/types.js';
import { computeStatus } from './compute-status.js';
import { agent, cluster, failed, healthyProbes, observe, ok, pod, T0, timeline } from './testing/fixtures.js';
import type { AgentProbe } from './agent-status.js';

const later = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const condition = (status: MuClusterStatus, type: string): Condition =>
  status.conditions!.find((c) => c.type === type)!;
const brief = (status: MuClusterStatus) =>
  Object.fromEntries(status.conditions!.map((c) => [c.type, `${c.status}/${c.reason}`]));

/** A healthy 3-member cluster led by replica 0, as computed from scratch. */
function healthy() {
  const c = cluster();
  const pods = [0, 1, 2].map((id) => pod(c, id));
  return { c, pods, result: computeStatus(observe(c, pods, { probes: healthyProbes(0) })) };
}

describe('computeStatus', () => {
  it('is Pending with nothing created yet', () => {
    const { status } = computeStatus(observe(cluster(), []));
    expect(status.phase).toBe('Pending');
    expect(status.replicas).toBe(0);
    expect(status.members!.map((m) => [m.name, m.message])).toEqual([
      ['demo-0', 'pod does not exist'],
      ['demo-1', 'pod does not exist'],
      ['demo-2', 'pod does not exist'],
    ]);
    expect(brief(status)).toMatchObject({
      Available: 'False/Bootstrapping',
      Degraded: 'False/Bootstrapping',
      Progressing: 'True/Creating',
    });
  });

  it('is Bootstrapping while pods run but no leader was ever elected', () => {
    const c = cluster();
    const pods = [0, 1, 2].map((id) => pod(c, id, { ready: false }));
    const probes = { 'demo-0': ok(agent(0, null, { role: 'candidate' })) };
    const { status, events } = computeStatus(observe(c, pods, { probes }));
    expect(status.phase).toBe('Bootstrapping');
    expect(condition(status, 'Available')).toMatchObject({ status: 'False', reason: 'Bootstrapping' });
    expect(events).toEqual([]);
  });

  it('reports a healthy cluster: leader, members, Ready, scale fields, observedGeneration', () => {
    const { result } = healthy();
    const { status, events } = result;
    expect(status).toMatchObject({
      observedGeneration: 4,
      replicas: 3,
      readyReplicas: 3,
      selector: 'mu.rdma.dev/cluster=demo,app.kubernetes.io/component=replica',
      phase: 'Ready',
      leader: { member: 'demo-0', id: 0, node: 'node-0', since: T0.toISOString() },
      failoverCount: 0,
      failoverHistory: [],
    });
    expect(status.members![0]).toEqual({
      name: 'demo-0',
      id: 0,
      role: 'leader',
      ready: true,
      node: 'node-0',
      host: '10.0.0.1',
      lastSeen: T0.toISOString(),
      joinedAt: T0.toISOString(),
    });
    expect(brief(status)).toEqual({
      Ready: 'True/AllMembersReady',
      Available: 'True/QuorumAvailable',
      Progressing: 'False/Reconciled',
      Degraded: 'False/AsExpected',
      ReconciliationPaused: 'False/NotPaused',
    });
    expect(condition(status, 'Ready').observedGeneration).toBe(4);
    expect(events).toEqual([
      { type: 'Normal', reason: 'LeaderElected', message: 'demo-0 is the leader on node node-0', member: 'demo-0' },
    ]);
  });

  it('is idempotent: the same observation again changes nothing and emits nothing', () => {
    const { c, pods, result } = healthy();
    c.status = result.status;
    const again = computeStatus(observe(c, pods, { probes: healthyProbes(0), now: later(30) }));
    expect(again.events).toEqual([]);
    expect({ ...again.status, members: undefined }).toEqual({ ...result.status, members: undefined });
    expect(again.status.members!.map((m) => m.joinedAt)).toEqual(result.status.members!.map((m) => m.joinedAt));
  });

  it('stays Available but Degraded with one follower down, naming it', () => {
    const { c, pods, result } = healthy();
    c.status = result.status;
    pods[2] = pod(c, 2, { ready: false, phase: 'Pending' });
    const probes = { ...healthyProbes(0), 'demo-2': failed('connect ECONNREFUSED') };
    const { status, events } = computeStatus(observe(c, pods, { probes, now: later(5) }));
    expect(status.phase).toBe('Degraded');
    expect(brief(status)).toMatchObject({
      Available: 'True/QuorumAvailable',
      Ready: 'False/MembersNotReady',
      Degraded: 'True/MembersUnavailable',
    });
    expect(condition(status, 'Degraded').message).toContain('demo-2: agent /status failed: connect ECONNREFUSED');
    const member = status.members!.find((m) => m.name === 'demo-2')!;
    expect(member).toMatchObject({ role: 'unknown', ready: false, lastSeen: T0.toISOString() });
    expect(events).toEqual([
      {
        type: 'Warning',
        reason: 'MemberNotReady',
        message: 'demo-2 left the quorum: agent /status failed: connect ECONNREFUSED',
        member: 'demo-2',
      },
    ]);
    // Ready's lastTransitionTime moved; Available's did not.
    expect(condition(status, 'Ready').lastTransitionTime).toBe(later(5).toISOString());
    expect(condition(status, 'Available').lastTransitionTime).toBe(T0.toISOString());
  });

  it('reports QuorumLost when a majority is gone, and QuorumRestored when it is back', () => {
    const { c, pods, result } = healthy();
    c.status = result.status;
    const down = [pod(c, 0), pod(c, 1, { ready: false }), pod(c, 2, { ready: false })];
    const probes = { 'demo-0': ok(agent(0, 0)), 'demo-1': failed('timeout'), 'demo-2': failed('timeout') };
    const lost = computeStatus(observe(c, down, { probes, now: later(5) }));
    expect(lost.status.phase).toBe('QuorumLost');
    expect(brief(lost.status)).toMatchObject({
      Available: 'False/QuorumLost',
      Degraded: 'True/QuorumLost',
      Ready: 'False/NotAvailable',
    });
    expect(condition(lost.status, 'Available').message).toMatch(
      /^1 of 3 replicas can vote \(majority 2\): demo-1: agent/,
    );
    expect(lost.events.map((e) => e.reason)).toEqual(['QuorumLost', 'MemberNotReady', 'MemberNotReady']);
    expect(lost.events[0]!.type).toBe('Warning');

    c.status = lost.status;
    const back = computeStatus(observe(c, pods, { probes: healthyProbes(0), now: later(10) }));
    expect(back.status.phase).toBe('Ready');
    expect(back.events.map((e) => e.reason)).toEqual(['QuorumRestored', 'MemberRejoined', 'MemberRejoined']);
  });

  it('records a failover seen by several agents once, with its µs breakdown, and moves the leader', () => {
    const { c, pods, result } = healthy();
    c.status = result.status;
    const t = timeline(0, 1, 1_000_000);
    const probes = {
      'demo-0': failed('connect ECONNREFUSED'),
      'demo-1': ok(
        agent(1, 1, { failovers: [t], permissionSwitch: { recentMicros: [150], mechanismCounts: { accessFlags: 1 } } }),
      ),
      'demo-2': ok(
        agent(2, 1, {
          failovers: [{ ...t, permissionSwitches: [] }],
          permissionSwitch: { recentMicros: [240], mechanismCounts: { accessFlags: 1 } },
        }),
      ),
    };
    pods[0] = pod(c, 0, { ready: false });
    const { status, events } = computeStatus(observe(c, pods, { probes, now: later(2) }));
    expect(status.leader).toEqual({ member: 'demo-1', id: 1, node: 'node-1', since: '2025-03-01T12:00:01.000870Z' });
    expect(status.failoverCount).toBe(1);
    expect(status.failoverHistory).toHaveLength(1);
    expect(status.lastFailover).toMatchObject({
      from: 'demo-0',
      to: 'demo-1',
      detectionMicros: 600,
      permissionSwitchMicros: 240,
      catchUpMicros: 30,
      totalMicros: 870,
      completedAt: '2025-03-01T12:00:01.000870Z',
    });
    expect(status.permissionSwitch).toEqual({
      samples: 2,
      p50Micros: 150,
      p99Micros: 240,
      mechanismCounts: { accessFlags: 2 },
    });
    expect(events).toEqual([
      {
        type: 'Normal',
        reason: 'FailoverCompleted',
        message: 'demo-0 → demo-1 in 870µs: detection 600µs, permission switch 240µs, catch-up 30µs (LeaderFailed)',
        member: 'demo-1',
      },
      {
        type: 'Normal',
        reason: 'LeaderElected',
        message: 'demo-1 is the leader on node node-1, replacing demo-0',
        member: 'demo-1',
      },
      {
        type: 'Warning',
        reason: 'MemberNotReady',
        message: 'demo-0 left the quorum: agent /status failed: connect ECONNREFUSED',
        member: 'demo-0',
      },
    ]);

    // Polling again: nothing new to say, the failover is not counted twice, the leader keeps its since.
    c.status = status;
    const again = computeStatus(observe(c, pods, { probes, now: later(3) }));
    expect(again.events).toEqual([]);
    expect(again.status.failoverCount).toBe(1);
    expect(again.status.leader!.since).toBe(status.leader!.since);
  });

  it('warns when a permission switch is slower than spec.monitoring.permissionSwitchSlowMicros', () => {
    const c = cluster({ monitoring: { permissionSwitchSlowMicros: 200 } }, healthy().result.status);
    const t = timeline(0, 1, 1_000_000);
    const pods = [0, 1, 2].map((id) => pod(c, id));
    const { events } = computeStatus(
      observe(c, pods, { probes: healthyProbes(1, (id) => (id === 1 ? { failovers: [t] } : {})) }),
    );
    expect(events).toContainEqual({
      type: 'Warning',
      reason: 'PermissionSwitchSlow',
      message:
        'failover demo-0 → demo-1: replica 2 240µs via accessFlags (spec.monitoring.permissionSwitchSlowMicros is 200µs)',
    });
  });

  it('keeps the permission switch stats when no agent answers', () => {
    const { c, pods, result } = healthy();
    c.status = { ...result.status, permissionSwitch: { samples: 9, p50Micros: 1, p99Micros: 2, mechanismCounts: {} } };
    const { status } = computeStatus(observe(c, pods, { probes: {} }));
    expect(status.permissionSwitch).toEqual({ samples: 9, p50Micros: 1, p99Micros: 2, mechanismCounts: {} });
  });

  it('bounds failoverHistory by spec.failoverHistoryLimit, newest first', () => {
    const c = cluster({ failoverHistoryLimit: 2 }, healthy().result.status);
    const pods = [0, 1, 2].map((id) => pod(c, id));
    const failovers = [timeline(0, 1, 1000), timeline(1, 2, 2000), timeline(2, 0, 3000)];
    const { status } = computeStatus(observe(c, pods, { probes: healthyProbes(0, () => ({ failovers })) }));
    expect(status.failoverHistory!.map((r) => r.id)).toEqual(['0-3000', '2-2000']);
    expect(status.failoverCount).toBe(3);
    expect(status.lastFailover!.id).toBe('0-3000');
  });

  it('shows a rolling update as Updating / Progressing RollingUpdate, listing outdated pods', () => {
    const { c, pods, result } = healthy();
    c.status = result.status;
    const { status } = computeStatus(observe(c, pods, { probes: healthyProbes(0), desiredPodSpecHash: 'new-spec' }));
    expect(status.phase).toBe('Updating');
    expect(condition(status, 'Progressing')).toMatchObject({
      status: 'True',
      reason: 'RollingUpdate',
      message: '3 of 3 pods run an outdated spec: demo-0, demo-1, demo-2',
    });
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'RollingUpdate' });
  });

  it('shows scaling up and down as Scaling', () => {
    const { c, pods, result } = healthy();
    const five = cluster({ replicas: 5 }, result.status);
    const up = computeStatus(observe(five, pods, { probes: healthyProbes(0) }));
    expect(up.status.phase).toBe('Scaling');
    expect(condition(up.status, 'Progressing')).toMatchObject({
      reason: 'ScalingUp',
      message: 'scaling up to 5: adding demo-3, demo-4',
    });

    const one = cluster({ replicas: 1 }, result.status);
    const down = computeStatus(observe(one, pods, { probes: healthyProbes(0) }));
    expect(down.status.phase).toBe('Scaling');
    expect(condition(down.status, 'Progressing')).toMatchObject({
      reason: 'ScalingDown',
      message: 'scaling down to 1: removing demo-1, demo-2',
    });
    expect(down.status.members!.find((m) => m.id === 2)!.message).toBe('being removed: spec.replicas is 1');
    void c;
  });

  it('names a lost member being replaced', () => {
    const { c, result } = healthy();
    c.status = result.status;
    const pods = [pod(c, 0), pod(c, 1)];
    const { status } = computeStatus(observe(c, pods, { probes: healthyProbes(0) }));
    expect(condition(status, 'Progressing')).toMatchObject({
      reason: 'ReplacingMembers',
      message: 'replacing lost demo-2',
    });
    expect(status.phase).toBe('Degraded');
  });

  it('shows operator-detected problems in Degraded with their reason', () => {
    const c = cluster();
    const pods = [0, 1, 2].map((id) => pod(c, id, { ready: id !== 2, phase: id === 2 ? 'Pending' : 'Running' }));
    const problems = [
      { reason: 'NodeNotRDMACapable', message: 'only 1 node matches spec.rdma.nodeSelector; 3 replicas need 3' },
      { reason: 'MemlockTooLow', message: 'node-0 allows 64KiB of locked memory' },
    ];
    const { status } = computeStatus(observe(c, pods, { probes: healthyProbes(0), problems }));
    expect(condition(status, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'NodeNotRDMACapable',
      message: 'only 1 node matches spec.rdma.nodeSelector; 3 replicas need 3 (and MemlockTooLow)',
    });

    // With quorum lost as well (it had formed: Available was True above), QuorumLost leads and the problems ride
    // along in the message.
    c.status = status;
    const lost = [0, 1, 2].map((id) => pod(c, id, { ready: id === 0 }));
    const degraded = computeStatus(observe(c, lost, { probes: healthyProbes(0), problems })).status.conditions!.find(
      (x) => x.type === 'Degraded',
    )!;
    expect(degraded.reason).toBe('QuorumLost');
    expect(degraded.message).toContain('; NodeNotRDMACapable: only 1 node matches');
  });

  it('is Bootstrapping, not QuorumLost, while a leader waits for the first majority to join', () => {
    const c = cluster();
    // The leader's agent answers before the kubelet has marked any pod Ready: no majority has ever formed.
    const pods = [0, 1, 2].map((id) => pod(c, id, { ready: false }));
    const first = computeStatus(observe(c, pods, { probes: healthyProbes(0) }));
    expect(first.status.phase).toBe('Bootstrapping');
    expect(brief(first.status)).toMatchObject({ Available: 'False/Bootstrapping', Degraded: 'False/Bootstrapping' });
    expect(first.events.map((e) => e.reason)).not.toContain('QuorumLost');

    c.status = first.status;
    const ready = computeStatus(observe(c, [0, 1, 2].map((id) => pod(c, id)), { probes: healthyProbes(0), now: later(1) }));
    expect(ready.status.phase).toBe('Ready');
    expect(ready.events.map((e) => e.reason)).not.toContain('QuorumRestored');
  });

  it('reports the pause annotation, and Progressing as paused when work waits', () => {
    const paused = cluster({}, undefined, { 'mu.rdma.dev/reconciliation-paused': 'true' });
    const pods = [0, 1, 2].map((id) => pod(paused, id));
    const { status } = computeStatus(observe(paused, pods, { probes: healthyProbes(0), desiredPodSpecHash: 'new' }));
    expect(condition(status, 'ReconciliationPaused')).toMatchObject({ status: 'True', reason: 'PausedByAnnotation' });
    expect(condition(status, 'Progressing')).toMatchObject({ status: 'False', reason: 'ReconciliationPaused' });
  });

  it("carries the reconciler's fields (bootstrappedAt, targetLeader) over untouched", () => {
    const { c, pods, result } = healthy();
    c.status = { ...result.status, bootstrappedAt: T0.toISOString(), targetLeader: 'demo-2' };
    const { status } = computeStatus(observe(c, pods, { probes: healthyProbes(0) }));
    expect(status).toMatchObject({ bootstrappedAt: T0.toISOString(), targetLeader: 'demo-2' });
  });

  it('flags an agent whose replica id contradicts its pod, and a learner', () => {
    const c = cluster();
    const pods = [0, 1, 2].map((id) => pod(c, id, { ready: id !== 2 }));
    const probes = { ...healthyProbes(0), 'demo-1': ok(agent(2, 0)), 'demo-2': ok(agent(2, 0, { role: 'learner' })) };
    const { status } = computeStatus(observe(c, pods, { probes }));
    expect(status.members!.map((m) => m.message)).toEqual([
      undefined,
      'agent reports replica id 2, pod is labelled 1',
      'pod is not Ready',
    ]);
  });

  it('says how a learner whose missing entries were recycled is being brought back, and when that fails', () => {
    const c = cluster();
    const pods = [0, 1, 2].map((id) => pod(c, id, { ready: id !== 2 }));
    const leader = agent(0, 0, { engine: { catchUpImpossible: 7 } });
    const learner = (stateTransfer: object) => ok(agent(2, 0, { role: 'learner', engine: { stateTransfer } }));
    const withLearner = (p: AgentProbe) => ({ ...healthyProbes(0), 'demo-0': ok(leader), 'demo-2': p });
    // Asked to fetch the state, not there yet.
    let status = computeStatus(observe(c, pods, { probes: withLearner(learner({ installed: 0, lastError: '' })) })).status;
    expect(status.members![2]!.message).toBe('learner fetching the state: the log entries it lacks were recycled on the leader');
    expect(status.members![1]!.message).toBeUndefined();
    // Installed: the log tail follows.
    status = computeStatus(observe(c, pods, { probes: withLearner(learner({ installed: 1, lastBytes: 4096, lastMicros: 850 })) })).status;
    expect(status.members![2]!.message).toBe('learner installed the state (4096 bytes in 850 µs), catching up the log after it');
    // The fetch fails: said with the engine's reason (and MemberCannotCatchUp follows, see events).
    status = computeStatus(observe(c, pods, {
      probes: withLearner(learner({ installed: 0, lastError: 'fetching the state of replica 0: bootstrap I/O timed out' })),
    })).status;
    expect(status.members![2]!.message).toMatch(
      /^learner cannot be caught up: fetching the state failed: fetching the state of replica 0: bootstrap I\/O timed out/,
    );
    // Without any of that, a not-ready learner is simply not ready yet.
    const plain = computeStatus(observe(c, pods, { probes: { ...healthyProbes(0), 'demo-2': ok(agent(2, 0, { role: 'learner' })) } })).status;
    expect(plain.members![2]!.message).toBe('pod is not Ready');
  });

  it('says why a pod is not ready: unscheduled, waiting container, terminating', () => {
    const c = cluster();
    const unscheduled = pod(c, 0, { ready: false, phase: 'Pending' });
    unscheduled.status!.conditions!.push({
      type: 'PodScheduled',
      status: 'False',
      message: '0/3 nodes are available: 3 Insufficient rdma/hca_shared_devices_a.',
    });
    const waiting = pod(c, 1, { ready: false, phase: 'Pending' });
    waiting.status!.containerStatuses = [
      {
        name: 'agent',
        image: 'x',
        imageID: '',
        ready: false,
        restartCount: 0,
        state: { waiting: { reason: 'ImagePullBackOff' } },
      },
    ];
    const terminating = pod(c, 2, { ready: false, terminating: true });
    const { status } = computeStatus(observe(c, [unscheduled, waiting, terminating]));
    expect(status.members!.map((m) => m.message)).toEqual([
      'pod is not scheduled: 0/3 nodes are available: 3 Insufficient rdma/hca_shared_devices_a.',
      'container agent is waiting: ImagePullBackOff',
      'pod is terminating',
    ]);
  });

  it('fills member RDMA details from the agent', () => {
    const c = cluster();
    const pods = [pod(c, 0)];
    const fabric = {
      kind: 'verbs' as const,
      device: 'rxe0',
      port: 1,
      linkLayer: 'Ethernet',
      gid: '::ffff:10.0.0.1',
      gidIndex: 1,
    };
    const { status } = computeStatus(
      observe(c, pods, {
        probes: { 'demo-0': ok(agent(0, 0, { fabric, proposalNumber: 9, firstUndecidedOffset: 77, applyLag: 1 })) },
      }),
    );
    expect(status.members![0]).toMatchObject({
      rdma: { fabric: 'verbs', device: 'rxe0', port: 1, linkLayer: 'Ethernet', gid: '::ffff:10.0.0.1', gidIndex: 1 },
      proposalNumber: 9,
      firstUndecidedOffset: 77,
      applyLag: 1,
    });
  });
});
