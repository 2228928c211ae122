// Labels, selectors and owner references shared by every object a MuCluster owns.
import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import {
  APP_NAME,
  LABEL_CLUSTER,
  LABEL_COMPONENT,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  LABEL_NAME,
  LABEL_PART_OF,
  MANAGER_NAME,
} from '../api/labels.js';
import type { MuCluster } from '../api/types.js';

export type Component = 'replica' | 'config' | 'fabric-key' | 'members' | 'leader' | 'disruption-budget';

/** Matches exactly the replica pods of one cluster: used by both Services, the PDB and status.selector. */
export function replicaSelector(cluster: MuCluster): Record<string, string> {
  return { [LABEL_CLUSTER]: cluster.metadata.name, [LABEL_COMPONENT]: 'replica' };
}

/** replicaSelector as a label selector string (status.selector, for the scale subresource and HPA). */
export function replicaSelectorString(cluster: MuCluster): string {
  return Object.entries(replicaSelector(cluster))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function commonLabels(cluster: MuCluster, component: Component): Record<string, string> {
  return {
    [LABEL_NAME]: APP_NAME,
    [LABEL_INSTANCE]: cluster.metadata.name,
    [LABEL_COMPONENT]: component,
    [LABEL_MANAGED_BY]: MANAGER_NAME,
    [LABEL_PART_OF]: APP_NAME,
    [LABEL_CLUSTER]: cluster.metadata.name,
  };
}

/** Controller reference: garbage collection deletes owned objects with the cluster, and only we reconcile them. */
export function ownerReference(cluster: MuCluster): V1OwnerReference {
  if (!cluster.metadata.uid)
    throw new Error(`MuCluster ${cluster.metadata.name} has no metadata.uid (not read from the API server?)`);
  return {
    apiVersion: cluster.apiVersion,
    kind: cluster.kind,
    name: cluster.metadata.name,
    uid: cluster.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function ownedMetadata(
  cluster: MuCluster,
  name: string,
  component: Component,
  extraLabels: Record<string, string> = {},
): V1ObjectMeta {
  return {
    name,
    namespace: cluster.metadata.namespace,
    labels: { ...commonLabels(cluster, component), ...extraLabels },
    ownerReferences: [ownerReference(cluster)],
  };
}
