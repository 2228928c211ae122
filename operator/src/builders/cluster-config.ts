// The document every agent reads from the ConfigMap (cluster.json): who the members are and how to run the engine.
// It is the contract between operator and node agent; bump CLUSTER_CONFIG_VERSION on any incompatible change.
import type { EngineSpec, MuCluster } from '../api/types.js';
import { memberHost, podName } from './names.js';
import type { BuilderOptions } from './options.js';

export const CLUSTER_CONFIG_VERSION = 1;

export interface MemberAddress {
  id: number;
  /** Pod name. */
  name: string;
  /** Stable DNS name (headless members Service); resolves to the node's address (host networking). */
  host: string;
  respPort: number;
  agentPort: number;
  fabricPort: number;
}

export interface ClusterConfig {
  version: typeof CLUSTER_CONFIG_VERSION;
  cluster: string;
  namespace: string;
  fabric: MuCluster['spec']['fabric'];
  /** Ids 0..replicas-1, in id order. Membership changes arrive as an updated file (the agent watches it). */
  members: MemberAddress[];
  engine: EngineSpec;
  /** Device selection for the verbs fabric; absent for soft. */
  rdma?: {
    device?: string;
    netdev?: string;
    port: number;
    linkLayer: MuCluster['spec']['rdma']['linkLayer'];
    gidIndex: number | 'auto';
  };
}

export function buildClusterConfig(cluster: MuCluster, options: BuilderOptions): ClusterConfig {
  const { spec } = cluster;
  const members: MemberAddress[] = [];
  for (let id = 0; id < spec.replicas; id++) {
    members.push({
      id,
      name: podName(cluster, id),
      host: memberHost(cluster, id, options.clusterDomain),
      respPort: spec.respPort,
      agentPort: spec.agentPort,
      fabricPort: spec.fabricPort,
    });
  }
  return {
    version: CLUSTER_CONFIG_VERSION,
    cluster: cluster.metadata.name,
    namespace: cluster.metadata.namespace,
    fabric: spec.fabric,
    members,
    engine: spec.engine,
    ...(spec.fabric === 'verbs' ? { rdma: rdmaConfig(spec.rdma) } : {}),
  };
}

function rdmaConfig(rdma: MuCluster['spec']['rdma']): NonNullable<ClusterConfig['rdma']> {
  // The schema's CEL rule admits only "auto" or 0..255, so any other string cannot reach here.
  const gidIndex = typeof rdma.gidIndex === 'number' ? rdma.gidIndex : 'auto';
  return {
    ...(rdma.device !== undefined ? { device: rdma.device } : {}),
    ...(rdma.netdev !== undefined ? { netdev: rdma.netdev } : {}),
    port: rdma.port,
    linkLayer: rdma.linkLayer,
    gidIndex,
  };
}
