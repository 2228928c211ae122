// Headless Service that gives each member the DNS name listed in cluster.json.
import type { V1Service } from '@kubernetes/client-node';
import type { MuCluster } from '../api/types.js';
import { ownedMetadata, replicaSelector } from './metadata.js';
import { membersServiceName } from './names.js';

export function buildMembersService(cluster: MuCluster): V1Service {
  const { spec } = cluster;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMetadata(cluster, membersServiceName(cluster), 'members'),
    spec: {
      clusterIP: 'None',
      // Members must find each other before they are Ready: readiness depends on having joined the cluster.
      publishNotReadyAddresses: true,
      selector: replicaSelector(cluster),
      ports: [
        { name: 'resp', port: spec.respPort, targetPort: spec.respPort, protocol: 'TCP' },
        { name: 'agent', port: spec.agentPort, targetPort: spec.agentPort, protocol: 'TCP' },
        { name: 'fabric', port: spec.fabricPort, targetPort: spec.fabricPort, protocol: 'TCP' },
      ],
    },
  };
}
