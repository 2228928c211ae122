import { agent, cluster, ok, pod } from '../../status/testing/fixtures.js';
import type { AgentProbe } from '../../status/agent-status.js';
import { fakeContext } from '../testing/fake-deps.js';
import { ANNOTATION_HANDOVER_REQUESTED_AT, ANNOTATION_HANDOVER_TO } from '../../api/labels.js';
import { HANDOVER_TIMEOUT_MS, nextPodToReplace, rollingUpdateStep } from './rolling-update.js';

function probes(leader: number, n = 3): Map<string, AgentProbe> {
  return new Map([...Array(n).keys()].map((id) => [`demo-${id}`, ok(agent(id, leader))]));
}

describe('rolling update', () => {
  it('replaces outdated followers first, lowest id first, and the leader last', () => {
    const c = cluster({ replicas: 3 });
    const pods = [0, 1, 2].map((id) => pod(c, id, { hash: 'old' }));
    const choice = nextPodToReplace(fakeContext(c, { pods }, probes(0)));
    expect(choice.pod?.metadata?.name).toBe('demo-1');

    const onlyLeader = [pod(c, 0, { hash: 'old' }), pod(c, 1), pod(c, 2)];
    const last = nextPodToReplace(fakeContext(c, { pods: onlyLeader }, probes(0)));
    expect(last.pod?.metadata?.name).toBe('demo-0');
    expect(last.handOverTo?.metadata?.name).toBe('demo-1');
    expect(last.reason).toMatch(/leader/);
  });

  it('waits while any member is not Ready and voting, so quorum survives the pod it takes down', () => {
    const c = cluster({ replicas: 3 });
    const pods = [pod(c, 0, { hash: 'old' }), pod(c, 1, { hash: 'old' }), pod(c, 2, { ready: false })];
    const choice = nextPodToReplace(fakeContext(c, { pods }, probes(0)));
    expect(choice.pod).toBeUndefined();
    expect(choice.reason).toMatch(/waiting for demo-2/);

    const learner = new Map(probes(0));
    learner.set('demo-2', ok({ ...agent(2, 0), role: 'learner' }));
    const ready = [pod(c, 0, { hash: 'old' }), pod(c, 1, { hash: 'old' }), pod(c, 2)];
    expect(nextPodToReplace(fakeContext(c, { pods: ready }, learner)).pod).toBeUndefined();
  });

  it('deletes the chosen pod with a uid precondition and records a RollingUpdate event', async () => {
    const c = cluster({ replicas: 3 });
    const pods = [0, 1, 2].map((id) => pod(c, id, { hash: 'old' }));
    pods[1]!.metadata!.uid = 'pod-uid-1';
    const ctx = fakeContext(c, { pods }, probes(0));
    expect(await rollingUpdateStep.run(ctx)).toBe('stop');
    expect(ctx.client.calls).toHaveLength(1);
    expect(ctx.client.calls[0]).toMatchObject({ method: 'DELETE', body: { preconditions: { uid: 'pod-uid-1' } } });
    expect(ctx.events[0]).toMatchObject({ reason: 'RollingUpdate', message: expect.stringMatching(/demo-1/) });
  });

  it('leaves pods alone under the OnDelete strategy', async () => {
    const c = cluster({ replicas: 3, updateStrategy: { type: 'OnDelete' } });
    const pods = [0, 1, 2].map((id) => pod(c, id, { hash: 'old' }));
    const ctx = fakeContext(c, { pods }, probes(0));
    expect(await rollingUpdateStep.run(ctx)).toBe('continue');
    expect(ctx.client.calls).toEqual([]);
  });

  describe('the leader, last', () => {
    const NOW = new Date('2025-03-01T12:00:00Z').getTime(); // fakeContext's clock
    function leaderOnlyOutdated(annotations?: Record<string, string>) {
      const c = cluster({ replicas: 3 });
      const pods = [pod(c, 0, { hash: 'old' }), pod(c, 1), pod(c, 2)];
      pods[0]!.metadata!.annotations = { ...pods[0]!.metadata!.annotations, ...annotations };
      return { c, pods };
    }

    it('is asked to hand leadership to the lowest-id follower, marked with when, and not deleted yet', async () => {
      const { c, pods } = leaderOnlyOutdated();
      const ctx = fakeContext(c, { pods }, probes(0), { switchover: { ok: true } });
      expect(await rollingUpdateStep.run(ctx)).toBe('stop');
      expect(ctx.client.calls.map((x) => x.method)).toEqual(['PATCH']);
      expect(ctx.client.calls[0]!.body).toEqual({
        metadata: {
          annotations: { [ANNOTATION_HANDOVER_REQUESTED_AT]: new Date(NOW).toISOString(), [ANNOTATION_HANDOVER_TO]: 'demo-1' },
        },
      });
      expect(ctx.events).toEqual([
        expect.objectContaining({ reason: 'RollingUpdate', message: expect.stringMatching(/asked demo-0 \(leader\) to hand leadership to demo-1/) }),
      ]);
      expect(ctx.requeueAfterMs).toBeDefined();
    });

    it('is not asked again once it accepted, while the handover has time left', async () => {
      const { c, pods } = leaderOnlyOutdated({
        [ANNOTATION_HANDOVER_REQUESTED_AT]: new Date(NOW - HANDOVER_TIMEOUT_MS + 1000).toISOString(),
        [ANNOTATION_HANDOVER_TO]: 'demo-1',
      });
      let asked = 0;
      const ctx = fakeContext(c, { pods }, probes(0), { switchover: { ok: true } });
      const ask = ctx.deps.agents.requestSwitchover;
      ctx.deps.agents.requestSwitchover = async (...args) => (asked++, ask(...args));
      expect(await rollingUpdateStep.run(ctx)).toBe('stop');
      expect(asked).toBe(0);
      expect(ctx.client.calls).toEqual([]);
    });

    it('is replaced anyway when leadership has not moved within the handover timeout', async () => {
      const { c, pods } = leaderOnlyOutdated({
        [ANNOTATION_HANDOVER_REQUESTED_AT]: new Date(NOW - HANDOVER_TIMEOUT_MS).toISOString(),
        [ANNOTATION_HANDOVER_TO]: 'demo-1',
      });
      const ctx = fakeContext(c, { pods }, probes(0), { switchover: { ok: true } });
      expect(await rollingUpdateStep.run(ctx)).toBe('stop');
      expect(ctx.client.calls.map((x) => x.method)).toEqual(['DELETE']);
      expect(ctx.events[0]!.message).toMatch(/replacing demo-0 \(.*\).*did not move to demo-1 within 15 s/);
    });

    it('is replaced at once when its agent offers no switchover', async () => {
      const { c, pods } = leaderOnlyOutdated();
      const ctx = fakeContext(c, { pods }, probes(0), { switchover: { ok: false, statusCode: 404, error: 'not found' } });
      expect(await rollingUpdateStep.run(ctx)).toBe('stop');
      expect(ctx.client.calls.map((x) => x.method)).toEqual(['DELETE']);
      expect(ctx.events[0]!.message).toMatch(/replacing demo-0.*offers no switchover \(HTTP 404\)/);
    });

    it('is asked again after a transient refusal, the timeout counting from the first attempt', async () => {
      const { c, pods } = leaderOnlyOutdated();
      const ctx = fakeContext(c, { pods }, probes(0), { switchover: { ok: false, statusCode: 409, error: 'not caught up' } });
      expect(await rollingUpdateStep.run(ctx)).toBe('stop');
      expect(ctx.client.calls.map((x) => x.method)).toEqual(['PATCH']);
      expect(ctx.client.calls[0]!.body).toEqual({
        metadata: { annotations: { [ANNOTATION_HANDOVER_REQUESTED_AT]: new Date(NOW).toISOString() } },
      });
      expect(ctx.events).toEqual([]);
    });
  });
});
