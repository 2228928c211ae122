// The TypeScript types and the schema describe the same fields. The generated file is compared byte for byte
// elsewhere (generated.test.ts); this test checks the agreement semantically, so that it also holds for the
// hand-written envelope (types.ts) and catches a generator bug: `full` must name every field the types declare
// (DeepRequired) and nothing else (excess property checks), and the walk below checks it names every field the
// schema declares and nothing else, with values the schema accepts.
import type { V1Affinity, V1Toleration } from '@kubernetes/client-node';
import type { JSONSchema } from './json-schema.js';
import { muClusterSchema } from './schema.js';
import type { MuCluster } from './types.js';
import { schemaViolations } from './validate.js';

type Opaque = V1Affinity | V1Toleration;
type DeepRequired<T> = T extends Opaque
  ? T
  : T extends readonly (infer U)[]
    ? DeepRequired<U>[]
    : T extends object
      ? { [K in keyof T]-?: DeepRequired<T[K]> }
      : T;

type FullCluster = DeepRequired<Omit<MuCluster, 'metadata'>> & { metadata: { name: string; namespace: string } };

const at = '2025-01-01T00:00:00.000001Z';
const failover = {
  id: '1-7',
  from: 'demo-0',
  to: 'demo-1',
  fromId: 0,
  toId: 1,
  detectedAt: at,
  completedAt: at,
  detectionMicros: 600,
  permissionSwitchMicros: 240,
  catchUpMicros: 30,
  totalMicros: 870,
  reason: 'LeaderFailed',
};

const full: FullCluster = {
  apiVersion: 'mu.rdma.dev/v1alpha1',
  kind: 'MuCluster',
  metadata: { name: 'demo', namespace: 'default' },
  spec: {
    replicas: 3,
    image: 'mu-agent:1',
    imagePullPolicy: 'IfNotPresent',
    imagePullSecrets: [{ name: 'pull' }],
    fabric: 'verbs',
    rdma: {
      resourceName: 'rdma/hca_shared_devices_a',
      device: 'mlx5_0',
      netdev: 'ens1f0',
      port: 1,
      linkLayer: 'Ethernet',
      gidIndex: 3,
      nodeSelector: { 'feature.node.kubernetes.io/rdma.capable': 'true' },
    },
    engine: {
      logSizeBytes: 67108864,
      heartbeatPeriodMicros: 50,
      scoreMax: 15,
      failureThreshold: 2,
      recoveryThreshold: 6,
      stuckReplicationTimeoutMicros: 10000,
      brokenConnectionTimeoutMicros: 1000000,
      permissionSwitchMechanism: 'accessFlags',
      batching: { maxBatchRequests: 64, maxBatchBytes: 65536, maxOutstandingProposals: 16 },
    },
    respPort: 6379,
    agentPort: 8790,
    fabricPort: 8791,
    resources: { requests: { memory: '1Gi' }, limits: { memory: '1Gi', 'hugepages-2Mi': '512Mi', cpu: 2 } },
    scheduling: {
      nodeSelector: { pool: 'rdma' },
      affinity: {},
      tolerations: [{ key: 'rdma', operator: 'Exists', effect: 'NoSchedule' }],
      antiAffinity: 'required',
      priorityClassName: 'high',
    },
    podDisruptionBudget: { enabled: true },
    updateStrategy: { type: 'RollingUpdate' },
    failoverHistoryLimit: 10,
    monitoring: {
      podMonitor: { enabled: true, interval: '15s', labels: { release: 'prom' } },
      permissionSwitchSlowMicros: 1000,
    },
  },
  status: {
    observedGeneration: 1,
    replicas: 3,
    readyReplicas: 3,
    selector: 'mu.rdma.dev/cluster=demo',
    phase: 'Ready',
    bootstrappedAt: at,
    leader: { member: 'demo-1', id: 1, node: 'n1', since: at },
    targetLeader: 'demo-1',
    members: [
      {
        name: 'demo-0',
        id: 0,
        node: 'n0',
        host: '10.0.0.1',
        role: 'follower',
        ready: true,
        lastSeen: at,
        joinedAt: at,
        proposalNumber: 7,
        firstUndecidedOffset: 100,
        applyLag: 0,
        rdma: {
          fabric: 'verbs',
          device: 'mlx5_0',
          port: 1,
          linkLayer: 'Ethernet',
          gid: 'fe80::1',
          gidIndex: 3,
          address: '10.0.0.1:8791',
        },
        message: 'ok',
      },
    ],
    lastFailover: failover,
    failoverHistory: [failover],
    failoverCount: 1,
    permissionSwitch: { samples: 3, p50Micros: 200, p99Micros: 400, mechanismCounts: { accessFlags: 3 } },
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        observedGeneration: 1,
        lastTransitionTime: at,
        reason: 'AllMembersReady',
        message: 'ok',
      },
    ],
  },
};

/** Asserts `value` sets exactly the properties `schema` declares, recursively (opaque/map nodes: values only). */
function expectSameFields(schema: JSONSchema, value: unknown, path: string): void {
  if (schema['x-kubernetes-preserve-unknown-fields'] || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    expect(value.length).toBeGreaterThan(0); // an empty array would check nothing below it
    for (const item of value) expectSameFields(schema.items!, item, `${path}[]`);
    return;
  }
  const obj = value as Record<string, unknown>;
  if (schema.properties) {
    expect({ path, keys: Object.keys(obj).sort() }).toEqual({ path, keys: Object.keys(schema.properties).sort() });
    for (const [k, v] of Object.entries(obj)) expectSameFields(schema.properties[k]!, v, `${path}.${k}`);
  } else if (schema.additionalProperties) {
    for (const [k, v] of Object.entries(obj)) expectSameFields(schema.additionalProperties, v, `${path}{${k}}`);
  }
}

describe('TypeScript types and schema', () => {
  it('declare the same fields at every depth', () => {
    const { metadata: _metadata, ...rest } = full;
    const { metadata: _schemaMetadata, ...schemaProperties } = muClusterSchema.properties!;
    expectSameFields({ ...muClusterSchema, properties: schemaProperties }, rest, '');
  });

  it('agree on value types: the fully typed sample is valid under the schema', () => {
    expect(schemaViolations(muClusterSchema, full, '')).toEqual([]);
  });
});
