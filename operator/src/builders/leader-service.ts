// The `<name>-leader` Service clients point at. It selects the pod the status relabeler marked as leader, so it
// follows failovers after the operator observes them (clients reaching a follower meanwhile get a redirect).
import type { V1Service } from '@kubernetes/client-node';
import { LABEL_ROLE, ROLE_LEADER } from '../api/labels.js';
import type { MuCluster } from '../api/types.js';
import { ownedMetadata, replicaSelector } from './metadata.js';
import { leaderServiceName } from './names.js';

export function buildLeaderService(cluster: MuCluster): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMetadata(cluster, leaderServiceName(cluster), 'leader'),
    spec: {
      type: 'ClusterIP',
      selector: { ...replicaSelector(cluster), [LABEL_ROLE]: ROLE_LEADER },
      ports: [{ name: 'resp', port: cluster.spec.respPort, targetPort: cluster.spec.respPort, protocol: 'TCP' }],
    },
  };
}
