import { agent, cluster, ok, pod } from '../../status/testing/fixtures.js';
import type { AgentProbe } from '../../status/agent-status.js';
import { fakeContext } from '../testing/fake-deps.js';
import { nextPodToReplace, rollingUpdateStep } from './rolling-update.js';

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
});
