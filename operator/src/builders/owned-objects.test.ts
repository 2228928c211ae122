// Every object a MuCluster owns carries the controller reference (garbage collection, adoption) and the
// recommended labels (kubectl get -l app.kubernetes.io/instance=demo finds them all).
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { newMuCluster } from '../api/new-cluster.js';
import { buildConfigMap } from './config-map.js';
import { buildFabricKeySecret } from './fabric-key.js';
import { buildLeaderService } from './leader-service.js';
import { buildMembersService } from './members-service.js';
import { DEFAULT_BUILDER_OPTIONS } from './options.js';
import { buildPod } from './pod.js';
import { buildPodDisruptionBudget } from './pod-disruption-budget.js';

const cluster = newMuCluster({ name: 'demo', namespace: 'db', uid: 'uid-1' });
const owned: Array<[string, V1ObjectMeta | undefined]> = [
  ['Pod', buildPod(cluster, { replicaId: 0, bootstrap: true }, DEFAULT_BUILDER_OPTIONS).pod.metadata],
  ['ConfigMap', buildConfigMap(cluster, DEFAULT_BUILDER_OPTIONS).metadata],
  ['Secret', buildFabricKeySecret(cluster, Buffer.alloc(32)).metadata],
  ['members Service', buildMembersService(cluster).metadata],
  ['leader Service', buildLeaderService(cluster).metadata],
  ['PodDisruptionBudget', buildPodDisruptionBudget(cluster).value!.metadata],
];

describe.each(owned)('%s', (_kind, metadata) => {
  it("is in the cluster's namespace and controlled by it", () => {
    expect(metadata!.namespace).toBe('db');
    expect(metadata!.ownerReferences).toEqual([
      {
        apiVersion: 'mu.rdma.dev/v1alpha1',
        kind: 'MuCluster',
        name: 'demo',
        uid: 'uid-1',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });

  it('has the recommended labels and the cluster label', () => {
    expect(metadata!.labels).toMatchObject({
      'app.kubernetes.io/name': 'mu',
      'app.kubernetes.io/instance': 'demo',
      'app.kubernetes.io/component': expect.any(String),
      'app.kubernetes.io/managed-by': 'mu-operator',
      'app.kubernetes.io/part-of': 'mu',
      'mu.rdma.dev/cluster': 'demo',
    });
  });
});

describe('owned object names', () => {
  it('stay within the 63-character DNS label limit for the longest allowed cluster name', () => {
    const long = newMuCluster({ name: 'a'.repeat(52), namespace: 'db', uid: 'u' }, { replicas: 9 });
    const names = [
      buildPod(long, { replicaId: 8, bootstrap: false }, DEFAULT_BUILDER_OPTIONS).pod.metadata!.name!,
      buildConfigMap(long, DEFAULT_BUILDER_OPTIONS).metadata!.name!,
      buildFabricKeySecret(long, Buffer.alloc(32)).metadata!.name!,
      buildMembersService(long).metadata!.name!,
      buildLeaderService(long).metadata!.name!,
    ];
    for (const name of names) expect(name.length).toBeLessThanOrEqual(63);
  });
});
