import { ANNOTATION_SWITCHOVER_TO } from '../../api/labels.js';
import { agent, cluster, ok, pod } from '../../status/testing/fixtures.js';
import type { AgentProbe } from '../../status/agent-status.js';
import { fakeContext } from '../testing/fake-deps.js';
import { switchoverStep } from './switchover.js';

function setup(target: string | undefined, leader: number, switchover?: { ok: true } | { ok: false; statusCode?: number; error: string }) {
  const c = cluster({ replicas: 3 }, {}, target ? { [ANNOTATION_SWITCHOVER_TO]: target } : undefined);
  const pods = [0, 1, 2].map((id) => pod(c, id));
  const probes = new Map<string, AgentProbe>([0, 1, 2].map((id) => [`demo-${id}`, ok(agent(id, leader))]));
  return fakeContext(c, { pods }, probes, switchover ? { switchover } : {});
}

const annotationCleared = (ctx: ReturnType<typeof setup>) =>
  ctx.client.calls.some(
    (c) => c.method === 'PATCH' && JSON.stringify(c.body).includes(`"${ANNOTATION_SWITCHOVER_TO}":null`),
  );

describe('switchover step', () => {
  it('records the target as intent and asks the current leader to hand over', async () => {
    const ctx = setup('demo-2', 0, { ok: true });
    await switchoverStep.run(ctx);
    expect(ctx.statusPatch.targetLeader).toBe('demo-2');
    expect(ctx.events).toEqual([expect.objectContaining({ reason: 'SwitchoverRequested' })]);
    expect(annotationCleared(ctx)).toBe(false);
  });

  it('completes when the agents report the target leading: clears the annotation and the intent', async () => {
    const ctx = setup('demo-2', 2);
    await switchoverStep.run(ctx);
    expect(ctx.events).toEqual([expect.objectContaining({ reason: 'SwitchoverCompleted' })]);
    expect(annotationCleared(ctx)).toBe(true);
    expect(ctx.statusPatch.targetLeader).toBeNull();
  });

  it('drops the request with a Warning when the agent has no switchover endpoint', async () => {
    const ctx = setup('demo-1', 0, { ok: false, statusCode: 404, error: 'not found' });
    await switchoverStep.run(ctx);
    expect(ctx.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'SwitchoverNotSupported' })]);
    expect(annotationCleared(ctx)).toBe(true);
  });

  it('rejects a target that is not a member', async () => {
    const ctx = setup('demo-7', 0);
    await switchoverStep.run(ctx);
    expect(ctx.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'SwitchoverInvalid' })]);
    expect(annotationCleared(ctx)).toBe(true);
  });
});
