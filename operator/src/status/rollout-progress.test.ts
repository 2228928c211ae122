import { rolloutProgress } from './rollout-progress.js';
import { cluster, desiredHash, pod } from './testing/fixtures.js';

describe('rolloutProgress', () => {
  const c = cluster();
  const hash = desiredHash(c);

  it('has no activity when every desired pod exists with the desired spec', () => {
    const p = rolloutProgress(
      c,
      [0, 1, 2].map((id) => pod(c, id)),
      hash,
      undefined,
      true,
    );
    expect(p).toEqual({ missing: [], extra: [], outdated: [] });
  });

  it('calls missing pods Creating before the first leader, ScalingUp after', () => {
    expect(rolloutProgress(c, [], hash, undefined, false).activity?.reason).toBe('Creating');
    expect(rolloutProgress(c, [pod(c, 0)], hash, undefined, true).activity).toEqual({
      reason: 'ScalingUp',
      message: 'scaling up to 3: adding demo-1, demo-2',
    });
  });

  it('ranks scaling over replacement over rolling update, and lists each', () => {
    const pods = [pod(c, 0, { hash: 'old' }), pod(c, 1), pod(c, 3)];
    const p = rolloutProgress(c, pods, hash, [{ name: 'demo-2', id: 2, lastSeen: '2025-01-01T00:00:00Z' }], true);
    expect(p).toMatchObject({ missing: [2], extra: ['demo-3'], outdated: ['demo-0'] });
    expect(p.activity?.reason).toBe('ScalingDown');
    const noExtra = rolloutProgress(
      c,
      pods.slice(0, 2),
      hash,
      [{ name: 'demo-2', id: 2, lastSeen: '2025-01-01T00:00:00Z' }],
      true,
    );
    expect(noExtra.activity?.reason).toBe('ReplacingMembers');
    const onlyOutdated = rolloutProgress(c, [pod(c, 0, { hash: 'old' }), pod(c, 1), pod(c, 2)], hash, undefined, true);
    expect(onlyOutdated.activity).toEqual({
      reason: 'RollingUpdate',
      message: '1 of 3 pods run an outdated spec: demo-0',
    });
  });
});
