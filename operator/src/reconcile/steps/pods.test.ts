import { AGENT_FLAGS } from '../../builders/agent-contract.js';
import { cluster, pod } from '../../status/testing/fixtures.js';
import type { V1Pod } from '@kubernetes/client-node';
import { fakeContext } from '../testing/fake-deps.js';
import { neverLed, podsStep } from './pods.js';

const created = (ctx: ReturnType<typeof fakeContext>) =>
  ctx.client.calls.filter((c) => c.method === 'POST').map((c) => c.body as V1Pod);

describe('pods step', () => {
  it('bootstraps a new cluster: records bootstrappedAt first, then creates every member with --bootstrap', async () => {
    const c = cluster({ replicas: 3 });
    c.metadata.resourceVersion = '10';
    const ctx = fakeContext(c, {}, new Map(), {
      answer: (call) => (call.method === 'PATCH' ? { metadata: { resourceVersion: '11' } } : call.body),
    });
    await podsStep.run(ctx);
    const [first, ...rest] = ctx.client.calls;
    expect(first!.method).toBe('PATCH');
    expect(first!.path).toMatch(/\/muclusters\/demo\/status$/);
    expect(first!.body).toMatchObject({ metadata: { resourceVersion: '10' }, status: { bootstrappedAt: expect.any(String) } });
    expect(rest.map((r) => r.method)).toEqual(['POST', 'POST', 'POST']);
    for (const p of created(ctx)) expect(p.spec!.containers[0]!.args).toContain(AGENT_FLAGS.bootstrap);
    expect(ctx.cluster.status?.bootstrappedAt).toBeDefined();
    expect(ctx.events.filter((e) => e.reason === 'MemberCreated')).toHaveLength(3);
  });

  it('replaces a lost member of a cluster that has led without --bootstrap (it rejoins as a learner)', async () => {
    const c = cluster({ replicas: 3 }, { bootstrappedAt: '2025-03-01T11:00:00Z', leader: { member: 'demo-0', id: 0 } });
    const ctx = fakeContext(c, { pods: [pod(c, 0), pod(c, 2)] });
    await podsStep.run(ctx);
    const pods = created(ctx);
    expect(pods.map((p) => p.metadata!.name)).toEqual(['demo-1']);
    expect(pods[0]!.spec!.containers[0]!.args).not.toContain(AGENT_FLAGS.bootstrap);
    expect(ctx.client.calls.some((call) => call.path.endsWith('/status'))).toBe(false);
  });

  it('deletes a finished member pod (its agent exited) with a Warning event, and replaces it as a learner', async () => {
    const c = cluster({ replicas: 3 }, { bootstrappedAt: '2025-03-01T11:00:00Z', leader: { member: 'demo-1', id: 1 } });
    const dead = pod(c, 0, { phase: 'Failed', ready: false });
    dead.metadata!.uid = 'uid-0';
    dead.status!.containerStatuses = [
      { name: 'agent', image: 'x', imageID: '', ready: false, restartCount: 0,
        state: { terminated: { exitCode: 137, signal: 9 as unknown as number, reason: 'Error' } } },
    ];
    const ctx = fakeContext(c, { pods: [dead, pod(c, 1), pod(c, 2)] });
    await podsStep.run(ctx);
    expect(ctx.client.calls.map((x) => [x.method, x.path.split('/').pop()])).toEqual([
      ['DELETE', 'demo-0'],
      ['POST', 'pods'],
    ]);
    expect(ctx.client.calls[0]!.body).toMatchObject({ preconditions: { uid: 'uid-0' }, gracePeriodSeconds: 0 });
    expect(created(ctx)[0]!.spec!.containers[0]!.args).not.toContain(AGENT_FLAGS.bootstrap);
    expect(created(ctx)[0]!.spec!.restartPolicy).toBe('Always');
    expect(ctx.events).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'Warning', reason: 'MemberFailed', message: 'demo-0 exited (signal 9); replacing it' })]),
    );
  });

  it('leaves a Running member and a terminating finished one alone', async () => {
    const c = cluster({ replicas: 3 }, { leader: { member: 'demo-0', id: 0 } });
    const ctx = fakeContext(c, { pods: [pod(c, 0), pod(c, 1), pod(c, 2, { phase: 'Failed', terminating: true })] });
    await podsStep.run(ctx);
    expect(ctx.client.calls).toEqual([]);
  });

  it('neverLed: false once a leader, a failover or a voting member was ever seen', () => {
    expect(neverLed(cluster())).toBe(true);
    expect(neverLed(cluster({}, { bootstrappedAt: 'x' }))).toBe(true);
    expect(neverLed(cluster({}, { leader: { member: 'demo-0', id: 0 } }))).toBe(false);
    expect(neverLed(cluster({}, { failoverCount: 1 }))).toBe(false);
    expect(neverLed(cluster({}, { members: [{ name: 'demo-0', id: 0, joinedAt: 'x' }] }))).toBe(false);
  });

  it('does nothing when every member exists', async () => {
    const c = cluster({ replicas: 3 }, { leader: { member: 'demo-0', id: 0 } });
    const ctx = fakeContext(c, { pods: [pod(c, 0), pod(c, 1), pod(c, 2)] });
    await podsStep.run(ctx);
    expect(ctx.client.calls).toEqual([]);
  });

  it('removes the highest extra member first, only while the others are Ready', async () => {
    const c = cluster({ replicas: 3 }, { leader: { member: 'demo-0', id: 0 } });
    const pods = [0, 1, 2, 3, 4].map((id) => pod(c, id));
    const ctx = fakeContext(c, { pods });
    await podsStep.run(ctx);
    expect(ctx.client.calls.map((x) => [x.method, x.path.split('/').pop()])).toEqual([['DELETE', 'demo-4']]);

    const notReady = [pod(c, 0), pod(c, 1, { ready: false }), pod(c, 2), pod(c, 3)];
    const ctx2 = fakeContext(c, { pods: notReady });
    await podsStep.run(ctx2);
    expect(ctx2.client.calls).toEqual([]);
  });
});
