// The placement and resource decisions behind a replica pod, each with its reason.
import type { V1Affinity, V1PodAffinityTerm } from '@kubernetes/client-node';
import type { MuCluster } from '../api/types.js';
import type { Decision } from './decision.js';
import { replicaSelector } from './metadata.js';

export const HOSTNAME_TOPOLOGY_KEY = 'kubernetes.io/hostname';

/** Device-plugin resource each replica requests (one unit), or undefined when no RDMA device is needed. */
export function rdmaResourceDecision(cluster: MuCluster): Decision<string | undefined> {
  if (cluster.spec.fabric === 'soft') {
    return { value: undefined, reason: 'spec.fabric is soft: replicas emulate RDMA over TCP and need no RDMA device' };
  }
  const name = cluster.spec.rdma.resourceName;
  return { value: name, reason: `spec.fabric is verbs: each replica requests one ${name} from the RDMA device plugin` };
}

export function nodeSelectorDecision(cluster: MuCluster): Decision<Record<string, string>> {
  const user = cluster.spec.scheduling.nodeSelector ?? {};
  if (cluster.spec.fabric === 'soft') {
    return { value: { ...user }, reason: 'spec.fabric is soft: any node will do, spec.rdma.nodeSelector is ignored' };
  }
  return {
    value: { ...cluster.spec.rdma.nodeSelector, ...user },
    reason: 'spec.fabric is verbs: replicas go only to nodes matching spec.rdma.nodeSelector',
  };
}

/** The user's affinity plus one-replica-per-node pod anti-affinity (required or preferred, per the spec). */
export function affinityDecision(cluster: MuCluster): Decision<V1Affinity> {
  const user = cluster.spec.scheduling.affinity ?? {};
  const term: V1PodAffinityTerm = {
    labelSelector: { matchLabels: replicaSelector(cluster) },
    topologyKey: HOSTNAME_TOPOLOGY_KEY,
  };
  const anti = user.podAntiAffinity ?? {};
  if (cluster.spec.scheduling.antiAffinity === 'required') {
    return {
      value: {
        ...user,
        podAntiAffinity: {
          ...anti,
          requiredDuringSchedulingIgnoredDuringExecution: [
            ...(anti.requiredDuringSchedulingIgnoredDuringExecution ?? []),
            term,
          ],
        },
      },
      reason: 'spec.scheduling.antiAffinity is required: at most one replica per node, so a node loss costs one member',
    };
  }
  return {
    value: {
      ...user,
      podAntiAffinity: {
        ...anti,
        preferredDuringSchedulingIgnoredDuringExecution: [
          ...(anti.preferredDuringSchedulingIgnoredDuringExecution ?? []),
          { weight: 100, podAffinityTerm: term },
        ],
      },
    },
    reason: 'spec.scheduling.antiAffinity is preferred: replicas spread over nodes when possible, may share one',
  };
}

/** Huge page sizes requested in spec.resources.limits (e.g. ["2Mi"]); the log is then backed by huge pages. */
export function hugepagesDecision(cluster: MuCluster): Decision<string[]> {
  const sizes = Object.keys(cluster.spec.resources?.limits ?? {})
    .filter((k) => k.startsWith('hugepages-'))
    .map((k) => k.slice('hugepages-'.length))
    .sort();
  if (sizes.length === 0) return { value: [], reason: 'no hugepages-* limit: the log uses ordinary locked pages' };
  return { value: sizes, reason: `spec.resources.limits asks for hugepages-${sizes.join(', hugepages-')}` };
}
