import { ANNOTATION_POD_SPEC_HASH } from '../api/labels.js';
import { newMuCluster, type SpecInput } from '../api/new-cluster.js';
import type { MuClusterSpec } from '../api/types.js';
import { DEFAULT_BUILDER_OPTIONS } from './options.js';
import { buildPod } from './pod.js';

const options = DEFAULT_BUILDER_OPTIONS;
const cluster = (spec: SpecInput<MuClusterSpec> = {}) =>
  newMuCluster({ name: 'demo', namespace: 'db', uid: 'uid-1' }, spec);
const pod = (spec: SpecInput<MuClusterSpec> = {}, replicaId = 1, bootstrap = false) =>
  buildPod(cluster(spec), { replicaId, bootstrap }, options);
const container = (spec: SpecInput<MuClusterSpec> = {}, replicaId = 1, bootstrap = false) =>
  pod(spec, replicaId, bootstrap).pod.spec!.containers[0]!;

describe('buildPod', () => {
  it('names the pod <cluster>-<id> and labels it for selection, with the recommended labels', () => {
    const { metadata } = pod({}, 2).pod;
    expect(metadata!.name).toBe('demo-2');
    expect(metadata!.namespace).toBe('db');
    expect(metadata!.labels).toEqual({
      'app.kubernetes.io/name': 'mu',
      'app.kubernetes.io/instance': 'demo',
      'app.kubernetes.io/component': 'replica',
      'app.kubernetes.io/managed-by': 'mu-operator',
      'app.kubernetes.io/part-of': 'mu',
      'mu.rdma.dev/cluster': 'demo',
      'mu.rdma.dev/replica-id': '2',
    });
    // The role label belongs to the status relabeler; a builder that set it would fight it on every reconcile.
    expect(metadata!.labels).not.toHaveProperty('mu.rdma.dev/role');
  });

  it('is controlled by the MuCluster', () => {
    expect(pod().pod.metadata!.ownerReferences).toEqual([
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

  it('uses host networking with cluster DNS and a stable hostname under the members Service', () => {
    const spec = pod({}, 0).pod.spec!;
    expect(spec).toMatchObject({
      hostNetwork: true,
      dnsPolicy: 'ClusterFirstWithHostNet',
      hostname: 'demo-0',
      subdomain: 'demo-members',
      automountServiceAccountToken: false,
    });
  });

  it('requests one RDMA device-plugin unit (request = limit) for verbs, none for soft', () => {
    const verbs = pod({ resources: { requests: { cpu: 1 }, limits: { memory: '1Gi' } } });
    expect(verbs.pod.spec!.containers[0]!.resources).toEqual({
      requests: { cpu: '1', 'rdma/hca_shared_devices_a': '1' },
      limits: { memory: '1Gi', 'rdma/hca_shared_devices_a': '1' },
    });
    expect(verbs.decisions.rdmaResource.value).toBe('rdma/hca_shared_devices_a');
    expect(container({ rdma: { resourceName: 'rdma/ib' } }).resources!.limits).toHaveProperty('rdma/ib', '1');

    const soft = pod({ fabric: 'soft' });
    expect(soft.pod.spec!.containers[0]!.resources).toEqual({});
    expect(soft.decisions.rdmaResource).toEqual({ value: undefined, reason: expect.stringContaining('soft') });
  });

  it('adds IPC_LOCK (and drops the rest) so the log can be pinned', () => {
    expect(container().securityContext).toMatchObject({
      capabilities: { add: ['IPC_LOCK'], drop: ['ALL'] },
      allowPrivilegeEscalation: false,
    });
  });

  it('probes readiness on /readyz and liveness on /healthz at the agent port', () => {
    const c = container({ agentPort: 9000 });
    expect(c.readinessProbe!.httpGet).toEqual({ path: '/readyz', port: 'agent' });
    expect(c.livenessProbe!.httpGet).toEqual({ path: '/healthz', port: 'agent' });
    expect(c.ports).toEqual([
      { name: 'resp', containerPort: 6379, protocol: 'TCP' },
      { name: 'agent', containerPort: 9000, protocol: 'TCP' },
      { name: 'fabric', containerPort: 8791, protocol: 'TCP' },
    ]);
  });

  it('passes the replica id, config file, fabric key file and the bootstrap flag only when asked', () => {
    expect(container({}, 1, false).args).toEqual([
      '--replica-id=1',
      '--config=/etc/mu/config/cluster.json',
      '--fabric-key-file=/etc/mu/secret/fabric-key',
    ]);
    expect(container({}, 0, true).args).toContain('--bootstrap');
  });

  it('never restarts a bootstrap member in place (it would come back as a voter with an empty log)', () => {
    expect(pod({}, 0, true).pod.spec!.restartPolicy).toBe('Never');
    expect(pod({}, 0, false).pod.spec!.restartPolicy).toBe('Always');
    expect(pod({}, 0, true).specHash).toBe(pod({}, 0, false).specHash);
  });

  it('runs the agent command', () => {
    expect(container().command).toEqual(['mu', 'agent']);
    expect(container().env).toEqual(
      expect.arrayContaining([
        { name: 'MU_REPLICA_ID', value: '1' },
        { name: 'MU_NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      ]),
    );
  });

  it('mounts the ConfigMap and the fabric key Secret read-only', () => {
    const p = pod().pod;
    expect(p.spec!.volumes).toEqual([
      { name: 'config', configMap: { name: 'demo-config' } },
      { name: 'fabric-key', secret: { secretName: 'demo-fabric-key', defaultMode: 0o400 } },
    ]);
    expect(p.spec!.containers[0]!.volumeMounts).toEqual([
      { name: 'config', mountPath: '/etc/mu/config', readOnly: true },
      { name: 'fabric-key', mountPath: '/etc/mu/secret', readOnly: true },
    ]);
  });

  it('mounts hugetlbfs per requested size and tells the agent where', () => {
    const p = pod({ resources: { limits: { memory: '1Gi', 'hugepages-2Mi': '512Mi', 'hugepages-1Gi': '2Gi' } } });
    expect(p.decisions.hugepages.value).toEqual(['1Gi', '2Mi']);
    expect(p.pod.spec!.volumes).toEqual(
      expect.arrayContaining([
        { name: 'hugepages-2mi', emptyDir: { medium: 'HugePages-2Mi' } },
        { name: 'hugepages-1gi', emptyDir: { medium: 'HugePages-1Gi' } },
      ]),
    );
    const c = p.pod.spec!.containers[0]!;
    expect(c.volumeMounts).toContainEqual({ name: 'hugepages-2mi', mountPath: '/dev/hugepages-2Mi' });
    expect(c.env).toContainEqual({ name: 'MU_HUGEPAGES_DIRS', value: '/dev/hugepages-1Gi,/dev/hugepages-2Mi' });
    expect(c.resources!.limits).toMatchObject({ 'hugepages-2Mi': '512Mi', 'hugepages-1Gi': '2Gi' });
    expect(container().env!.map((e) => e.name)).not.toContain('MU_HUGEPAGES_DIRS');
  });

  it("requires one replica per node by default, merged with the user's affinity", () => {
    const p = pod({
      scheduling: {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }],
            },
          },
          podAntiAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [
              { topologyKey: 'rack', labelSelector: { matchLabels: { x: 'y' } } },
            ],
          },
        },
      },
    });
    const affinity = p.pod.spec!.affinity!;
    expect(affinity.nodeAffinity).toBeDefined();
    expect(affinity.podAntiAffinity!.requiredDuringSchedulingIgnoredDuringExecution).toEqual([
      { topologyKey: 'rack', labelSelector: { matchLabels: { x: 'y' } } },
      {
        topologyKey: 'kubernetes.io/hostname',
        labelSelector: { matchLabels: { 'mu.rdma.dev/cluster': 'demo', 'app.kubernetes.io/component': 'replica' } },
      },
    ]);
    expect(p.decisions.affinity.reason).toContain('required');
  });

  it('only prefers spreading when antiAffinity is preferred', () => {
    const affinity = pod({ scheduling: { antiAffinity: 'preferred' } }).pod.spec!.affinity!;
    expect(affinity.podAntiAffinity!.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    expect(affinity.podAntiAffinity!.preferredDuringSchedulingIgnoredDuringExecution).toEqual([
      expect.objectContaining({
        weight: 100,
        podAffinityTerm: expect.objectContaining({ topologyKey: 'kubernetes.io/hostname' }),
      }),
    ]);
  });

  it("selects RDMA-capable nodes (NFD label) for verbs, merged with the user's node selector; not for soft", () => {
    expect(pod({ scheduling: { nodeSelector: { pool: 'a' } } }).pod.spec!.nodeSelector).toEqual({
      'feature.node.kubernetes.io/rdma.capable': 'true',
      pool: 'a',
    });
    expect(pod({ fabric: 'soft' }).pod.spec!.nodeSelector).toBeUndefined();
    expect(pod({ fabric: 'soft', scheduling: { nodeSelector: { pool: 'a' } } }).pod.spec!.nodeSelector).toEqual({
      pool: 'a',
    });
  });

  it('carries image, pull policy and secrets, tolerations and priority class from the spec', () => {
    const p = pod({
      image: 'reg/mu:2',
      imagePullPolicy: 'Always',
      imagePullSecrets: [{ name: 'pull' }],
      scheduling: { tolerations: [{ key: 'rdma', operator: 'Exists' }], priorityClassName: 'critical' },
    }).pod.spec!;
    expect(p.containers[0]).toMatchObject({ image: 'reg/mu:2', imagePullPolicy: 'Always' });
    expect(p.imagePullSecrets).toEqual([{ name: 'pull' }]);
    expect(p.tolerations).toEqual([{ key: 'rdma', operator: 'Exists' }]);
    expect(p.priorityClassName).toBe('critical');
    expect(container().image).toBe(options.defaultImage);
    expect(container()).not.toHaveProperty('imagePullPolicy');
  });

  describe('spec hash', () => {
    const hash = (spec: SpecInput<MuClusterSpec> = {}, replicaId = 1, bootstrap = false) =>
      pod(spec, replicaId, bootstrap).specHash;

    it('is recorded on the pod and stable across builds', () => {
      const p = pod();
      expect(p.pod.metadata!.annotations![ANNOTATION_POD_SPEC_HASH]).toBe(p.specHash);
      expect(p.specHash).toMatch(/^[0-9a-f]{16}$/);
      expect(hash()).toBe(p.specHash);
    });

    it('ignores the bootstrap flag, so the first members are not rolled for it later', () => {
      expect(hash({}, 0, true)).toBe(hash({}, 0, false));
    });

    it('is the same for every replica: status compares all pods with one desired hash', () => {
      expect(new Set([0, 1, 2, 8].map((id) => hash({}, id))).size).toBe(1);
    });

    it('ignores replicas: scaling changes the member list, not the pods', () => {
      expect(hash({ replicas: 5 })).toBe(hash({ replicas: 3 }));
    });

    it('changes with anything that needs a restart: image, engine tuning, ports, resources', () => {
      const base = hash();
      expect(hash({ image: 'other' })).not.toBe(base);
      expect(hash({ engine: { heartbeatPeriodMicros: 100 } })).not.toBe(base);
      expect(hash({ respPort: 7000 })).not.toBe(base);
      expect(hash({ resources: { limits: { memory: '2Gi' } } })).not.toBe(base);
    });
  });

  it('rejects a negative or fractional replica id', () => {
    expect(() => pod({}, -1)).toThrow(RangeError);
    expect(() => pod({}, 1.5)).toThrow(RangeError);
  });
});
