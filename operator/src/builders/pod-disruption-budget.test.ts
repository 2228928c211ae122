import { newMuCluster } from '../api/new-cluster.js';
import { buildPodDisruptionBudget } from './pod-disruption-budget.js';

describe('PodDisruptionBudget', () => {
  it.each([
    [1, 0],
    [3, 1],
    [5, 2],
    [7, 3],
    [9, 4],
  ])('%i replicas: at most %i unavailable, so a majority stays', (replicas, maxUnavailable) => {
    const { value, reason } = buildPodDisruptionBudget(newMuCluster({ name: 'demo', uid: 'u' }, { replicas }));
    expect(value!.spec!.maxUnavailable).toBe(maxUnavailable);
    expect(replicas - maxUnavailable).toBeGreaterThan(replicas / 2);
    expect(reason).toContain(`majority of ${replicas - maxUnavailable}`);
  });

  it('selects the replica pods, lets unhealthy ones go, and is owned', () => {
    const pdb = buildPodDisruptionBudget(newMuCluster({ name: 'demo', uid: 'u' })).value!;
    expect(pdb.metadata).toMatchObject({
      name: 'demo',
      ownerReferences: [expect.objectContaining({ controller: true, blockOwnerDeletion: true })],
    });
    expect(pdb.spec!.selector).toEqual({
      matchLabels: { 'mu.rdma.dev/cluster': 'demo', 'app.kubernetes.io/component': 'replica' },
    });
    expect(pdb.spec!.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
  });

  it('is absent, with the reason, when disabled', () => {
    expect(
      buildPodDisruptionBudget(newMuCluster({ name: 'demo', uid: 'u' }, { podDisruptionBudget: { enabled: false } })),
    ).toEqual({
      value: undefined,
      reason: 'spec.podDisruptionBudget.enabled is false',
    });
  });
});
