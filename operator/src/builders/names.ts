// Names of the objects a MuCluster owns. All derive from metadata.name; the CRD caps it at 52 characters so the
// longest (<name>-fabric-key) stays a valid 63-character DNS label.
import type { MuCluster } from '../api/types.js';

export function podName(cluster: MuCluster, replicaId: number): string {
  return `${cluster.metadata.name}-${replicaId}`;
}

/** Headless Service: a stable DNS name per member, published before Ready (peers must connect to become Ready). */
export function membersServiceName(cluster: MuCluster): string {
  return `${cluster.metadata.name}-members`;
}

/** ClusterIP Service selecting whichever pod carries the leader role label. */
export function leaderServiceName(cluster: MuCluster): string {
  return `${cluster.metadata.name}-leader`;
}

export function configMapName(cluster: MuCluster): string {
  return `${cluster.metadata.name}-config`;
}

export function fabricKeySecretName(cluster: MuCluster): string {
  return `${cluster.metadata.name}-fabric-key`;
}

export function podDisruptionBudgetName(cluster: MuCluster): string {
  return cluster.metadata.name;
}

/** Stable DNS name of a member: <pod>.<members service>.<namespace>.svc.<cluster domain>. */
export function memberHost(cluster: MuCluster, replicaId: number, clusterDomain: string): string {
  const service = membersServiceName(cluster);
  return `${podName(cluster, replicaId)}.${service}.${cluster.metadata.namespace}.svc.${clusterDomain}`;
}
