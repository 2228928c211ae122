import { buildConfigMap } from '../../builders/config-map.js';
import { DEFAULT_BUILDER_OPTIONS } from '../../builders/options.js';
import { cluster } from '../../status/testing/fixtures.js';
import { fakeContext } from '../testing/fake-deps.js';
import { membersInForce, membershipStep, SCALING_NOT_SUPPORTED } from './membership.js';

const bootstrapped = { bootstrappedAt: '2025-03-01T11:00:00Z' };

describe('membership step', () => {
  it('before bootstrap, any spec.replicas is simply the initial size', async () => {
    const c = cluster({ replicas: 5 });
    const configMap = buildConfigMap(cluster({ replicas: 3 }), DEFAULT_BUILDER_OPTIONS);
    const ctx = fakeContext(c, { configMaps: [configMap] });
    expect(membersInForce(ctx)).toBeUndefined();
    await membershipStep.run(ctx);
    expect(ctx.effective.spec.replicas).toBe(5);
    expect(ctx.problems).toEqual([]);
  });

  it('after bootstrap, refuses a new size with a problem naming the field, the members kept and what to do', async () => {
    const c = cluster({ replicas: 5 }, bootstrapped);
    const configMap = buildConfigMap(cluster({ replicas: 3 }), DEFAULT_BUILDER_OPTIONS);
    const ctx = fakeContext(c, { configMaps: [configMap] });
    await membershipStep.run(ctx);
    expect(ctx.effective.spec.replicas).toBe(3);
    expect(ctx.cluster.spec.replicas).toBe(5); // the user's spec is not rewritten
    expect(ctx.problems).toHaveLength(1);
    expect(ctx.problems[0]!.reason).toBe(SCALING_NOT_SUPPORTED);
    expect(ctx.problems[0]!.message).toMatch(/spec\.replicas is 5.*keeps its 3 members.*back to 3/);
    expect(ctx.events.map((e) => [e.type, e.reason])).toEqual([['Warning', SCALING_NOT_SUPPORTED]]);
  });

  it('acts on the new size when the engine supports membership changes', async () => {
    const c = cluster({ replicas: 5 }, bootstrapped);
    const configMap = buildConfigMap(cluster({ replicas: 3 }), DEFAULT_BUILDER_OPTIONS);
    const ctx = fakeContext(c, { configMaps: [configMap] }, new Map(), { membershipChanges: true });
    await membershipStep.run(ctx);
    expect(ctx.effective.spec.replicas).toBe(5);
    expect(ctx.problems).toEqual([]);
  });
});
