// PodDisruptionBudget keeping quorum.
//
// Rule: voluntary disruptions may take at most the replicas the cluster can lose and still hold a majority,
// maxUnavailable = floor((n-1)/2) (0 for n=1: its only replica holds all the data). Pods already not Ready count
// as unavailable, so a cluster that is already degraded allows no further eviction.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { faultTolerance } from '../api/quorum.js';
import type { MuCluster } from '../api/types.js';
import type { Decision } from './decision.js';
import { ownedMetadata, replicaSelector } from './metadata.js';
import { podDisruptionBudgetName } from './names.js';

/** The budget to apply, or undefined (delete any existing one) when spec.podDisruptionBudget.enabled is false. */
export function buildPodDisruptionBudget(cluster: MuCluster): Decision<V1PodDisruptionBudget | undefined> {
  const n = cluster.spec.replicas;
  if (!cluster.spec.podDisruptionBudget.enabled) {
    return { value: undefined, reason: 'spec.podDisruptionBudget.enabled is false' };
  }
  const maxUnavailable = faultTolerance(n);
  return {
    value: {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: ownedMetadata(cluster, podDisruptionBudgetName(cluster), 'disruption-budget'),
      spec: {
        selector: { matchLabels: replicaSelector(cluster) },
        maxUnavailable,
        // A not-Ready member is not in any quorum; evicting it costs nothing and keeps node drains from sticking.
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    },
    reason: `${n} replicas keep a majority of ${n - maxUnavailable} with ${maxUnavailable} unavailable`,
  };
}
