import { newMuCluster } from '../api/new-cluster.js';
import { buildClusterConfig, type ClusterConfig } from './cluster-config.js';
import { buildConfigMap, CLUSTER_CONFIG_KEY } from './config-map.js';
import { DEFAULT_BUILDER_OPTIONS } from './options.js';

describe('cluster config and its ConfigMap', () => {
  const cluster = newMuCluster(
    { name: 'demo', namespace: 'db', uid: 'u' },
    { replicas: 3, rdma: { device: 'mlx5_0', gidIndex: 3 } },
  );

  it('lists members 0..n-1 with stable DNS names and their ports', () => {
    const config = buildClusterConfig(cluster, DEFAULT_BUILDER_OPTIONS);
    expect(config.members).toEqual(
      [0, 1, 2].map((id) => ({
        id,
        name: `demo-${id}`,
        host: `demo-${id}.demo-members.db.svc.cluster.local`,
        respPort: 6379,
        agentPort: 8790,
        fabricPort: 8791,
      })),
    );
    expect(config).toMatchObject({ version: 1, cluster: 'demo', namespace: 'db', fabric: 'verbs' });
  });

  it('carries the engine tuning and the RDMA device selection (verbs only)', () => {
    const config = buildClusterConfig(cluster, DEFAULT_BUILDER_OPTIONS);
    expect(config.engine).toEqual(cluster.spec.engine);
    expect(config.rdma).toEqual({ device: 'mlx5_0', port: 1, linkLayer: 'auto', gidIndex: 3 });
    const soft = buildClusterConfig(
      newMuCluster({ name: 'demo', uid: 'u' }, { fabric: 'soft' }),
      DEFAULT_BUILDER_OPTIONS,
    );
    expect(soft).not.toHaveProperty('rdma');
  });

  it('uses the configured cluster domain', () => {
    const config = buildClusterConfig(cluster, { ...DEFAULT_BUILDER_OPTIONS, clusterDomain: 'k8s.internal' });
    expect(config.members[0]!.host).toBe('demo-0.demo-members.db.svc.k8s.internal');
  });

  it('stores cluster.json in an owned ConfigMap, byte-identical for the same cluster', () => {
    const cm = buildConfigMap(cluster, DEFAULT_BUILDER_OPTIONS);
    expect(cm.metadata).toMatchObject({
      name: 'demo-config',
      namespace: 'db',
      ownerReferences: [expect.objectContaining({ uid: 'u', controller: true })],
    });
    const text = cm.data![CLUSTER_CONFIG_KEY]!;
    expect((JSON.parse(text) as ClusterConfig).members).toHaveLength(3);
    expect(buildConfigMap(structuredClone(cluster), DEFAULT_BUILDER_OPTIONS).data![CLUSTER_CONFIG_KEY]).toBe(text);
  });

  it('grows with the cluster when scaling', () => {
    const five = newMuCluster({ name: 'demo', namespace: 'db', uid: 'u' }, { replicas: 5 });
    expect(buildClusterConfig(five, DEFAULT_BUILDER_OPTIONS).members.map((m) => m.id)).toEqual([0, 1, 2, 3, 4]);
  });
});
