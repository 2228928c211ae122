// The single source of truth for the MuCluster API: the OpenAPI v3 schema with defaults, enums, descriptions and CEL
// rules. `npm run gen:crd` (hack/gen-crd.ts) writes from it the CRD (crds/, and the chart's copy) and the TypeScript
// types (api/generated/). Tests fail when the written files differ from what this file generates.
//
// Conventions:
// - Every object with properties has a `title`: it names the generated TypeScript type.
// - Every CEL message names the field it is about, as the user wrote it (spec.x.y), so `kubectl apply` errors are
//   actionable without reading this file.
// - Units come last in names (logSizeBytes, heartbeatPeriodMicros).
// - Fields with a default are always present on objects read back from the API server; the generated types say so.
import type { JSONSchema } from './json-schema.js';

/** The label Node Feature Discovery puts on nodes with an RDMA-capable NIC. */
export const NFD_RDMA_CAPABLE_LABEL = 'feature.node.kubernetes.io/rdma.capable';
/** Resource name of the k8s-rdma-shared-dev-plugin's default shared HCA pool. */
export const DEFAULT_RDMA_RESOURCE_NAME = 'rdma/hca_shared_devices_a';
/** Largest cluster we accept: heartbeat reads and permission switches are per peer; beyond 9 they stop being cheap. */
export const MAX_REPLICAS = 9;

// A Kubernetes resource.Quantity written as a string (the API server's own pattern for quantities).
const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

function stringMap(description: string, extra: Partial<JSONSchema> = {}): JSONSchema {
  return {
    type: 'object',
    description,
    maxProperties: 64,
    additionalProperties: { type: 'string', maxLength: 1024 },
    ...extra,
  };
}

function quantityMap(description: string): JSONSchema {
  return {
    type: 'object',
    description,
    maxProperties: 32,
    additionalProperties: {
      'x-kubernetes-int-or-string': true,
      anyOf: [{ type: 'integer' }, { type: 'string' }],
      pattern: QUANTITY_PATTERN,
    },
  };
}

function time(description: string): JSONSchema {
  return { type: 'string', format: 'date-time', description };
}

// Unprivileged ports only: the agent runs without NET_BIND_SERVICE (see builders/pod.ts).
function port(description: string, defaultPort: number): JSONSchema {
  return { type: 'integer', format: 'int32', minimum: 1024, maximum: 65535, default: defaultPort, description };
}

function micros(description: string): JSONSchema {
  return { type: 'integer', format: 'int64', minimum: 0, description };
}

/** A @kubernetes/client-node model type kept opaque here: the API server validates it when it lands in a Pod. */
function coreType(title: string, description: string): JSONSchema {
  return { type: 'object', title, description, 'x-kubernetes-preserve-unknown-fields': true };
}

const rdmaSpec: JSONSchema = {
  type: 'object',
  title: 'RdmaSpec',
  description: 'RDMA device selection and placement. Used only when spec.fabric is "verbs".',
  default: {},
  properties: {
    resourceName: {
      type: 'string',
      description:
        'Extended resource advertised by the RDMA device plugin; each replica requests one. Immutable: pods ' +
        'cannot move between device pools without losing their log.',
      default: DEFAULT_RDMA_RESOURCE_NAME,
      maxLength: 253,
      pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$',
      'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'spec.rdma.resourceName is immutable' }],
    },
    device: {
      type: 'string',
      description:
        'RDMA device to use (e.g. mlx5_0). Unset: the agent picks the device behind netdev, or the first active one.',
      maxLength: 64,
      pattern: '^[A-Za-z0-9_.-]+$',
    },
    netdev: {
      type: 'string',
      description:
        'Network interface whose RDMA device to use (e.g. ens1f0), for RoCE setups that name the port by its netdev.',
      maxLength: 15,
      pattern: '^[A-Za-z0-9_.:-]+$',
    },
    port: {
      type: 'integer',
      format: 'int32',
      description: 'Port number on the RDMA device (1-based, as in ibv_query_port).',
      default: 1,
      minimum: 1,
      maximum: 255,
    },
    linkLayer: {
      type: 'string',
      description: 'Expected link layer. "auto" accepts what the port reports; otherwise the agent refuses a mismatch.',
      enum: ['auto', 'InfiniBand', 'Ethernet'],
      default: 'auto',
    },
    gidIndex: {
      'x-kubernetes-int-or-string': true,
      anyOf: [{ type: 'integer' }, { type: 'string' }],
      description:
        'GID table index used for addressing (RoCE v2 needs the right one). "auto" picks a RoCE v2 IPv4-mapped GID ' +
        'when there is one.',
      default: 'auto',
      'x-kubernetes-validations': [
        {
          rule: "type(self) == int ? (self >= 0 && self <= 255) : self == 'auto'",
          message: 'spec.rdma.gidIndex must be "auto" or an integer from 0 to 255',
        },
      ],
    },
    nodeSelector: stringMap(
      'Node labels required for RDMA replicas, merged into the pod nodeSelector when spec.fabric is "verbs". ' +
        'The default is the Node Feature Discovery label for RDMA-capable nodes.',
      { default: { [NFD_RDMA_CAPABLE_LABEL]: 'true' } },
    ),
  },
  'x-kubernetes-validations': [
    {
      rule: '!(has(self.device) && has(self.netdev))',
      message: 'spec.rdma: set device or netdev, not both',
      fieldPath: '.netdev',
    },
  ],
};

const engineSpec: JSONSchema = {
  type: 'object',
  title: 'EngineSpec',
  description: 'Tuning of the Mu engine. Changing it rolls the replicas (followers first, leader last).',
  default: {},
  properties: {
    logSizeBytes: {
      type: 'integer',
      format: 'int64',
      description:
        "Size of each replica's circular replication log (registered, locked memory). Immutable: replicas must " +
        'agree on the log layout. A multiple of 4096.',
      default: 67108864,
      minimum: 1048576,
      maximum: 17179869184,
      'x-kubernetes-validations': [
        { rule: 'self == oldSelf', message: 'spec.engine.logSizeBytes is immutable' },
        { rule: 'self % 4096 == 0', message: 'spec.engine.logSizeBytes must be a multiple of 4096' },
      ],
    },
    heartbeatPeriodMicros: {
      type: 'integer',
      format: 'int32',
      description:
        "How often each replica reads every peer's heartbeat counter with an RDMA READ. A peer is failed after about " +
        '(scoreMax - failureThreshold) silent periods. The default (1 ms, ≈13 ms to detect) suits verbs on shared ' +
        'cores; dedicated cores with RDMA NICs allow tens of µs (the Mu paper reads continuously). The soft fabric on ' +
        'busy machines needs ~10 ms: its replicas are processes that get descheduled for milliseconds without being dead.',
      default: 1000,
      minimum: 1,
      maximum: 1000000,
    },
    scoreMax: {
      type: 'integer',
      format: 'int32',
      description: 'Upper bound of the per-peer liveness score (up when the heartbeat moved, down when not).',
      default: 15,
      minimum: 1,
      maximum: 255,
    },
    failureThreshold: {
      type: 'integer',
      format: 'int32',
      description: 'A peer whose score falls to this value is considered failed.',
      default: 2,
      minimum: 0,
      maximum: 254,
    },
    recoveryThreshold: {
      type: 'integer',
      format: 'int32',
      description: 'A failed peer whose score climbs back to this value is considered alive again (hysteresis).',
      default: 6,
      minimum: 1,
      maximum: 255,
    },
    stuckReplicationTimeoutMicros: {
      type: 'integer',
      format: 'int64',
      description:
        'A leader whose replication plane has work pending and makes no progress this long stops its heartbeat so that ' +
        'the others replace it (fate sharing).',
      default: 50000,
      minimum: 1,
    },
    brokenConnectionTimeoutMicros: {
      type: 'integer',
      format: 'int64',
      description: 'Longer timeout after which a peer whose connection is broken is treated as failed.',
      default: 1000000,
      minimum: 1,
    },
    permissionSwitchMechanism: {
      type: 'string',
      description:
        'Preferred way to move log write permission to a new leader: change the QP access flags in RTS ' +
        '(accessFlags), cycle the QP through RESET→INIT→RTR→RTS (qpCycle), or re-register the memory region ' +
        '(mrReregister). accessFlags falls back to qpCycle when the device refuses.',
      enum: ['accessFlags', 'qpCycle', 'mrReregister'],
      default: 'accessFlags',
    },
    batching: {
      type: 'object',
      title: 'BatchingSpec',
      description: 'Pipelining and batching of proposals on the leader.',
      default: {},
      properties: {
        maxBatchRequests: {
          type: 'integer',
          format: 'int32',
          description: 'Most client requests carried by one replicated log entry.',
          default: 64,
          minimum: 1,
          maximum: 4096,
        },
        maxBatchBytes: {
          type: 'integer',
          format: 'int32',
          description: 'Most payload bytes in one replicated log entry.',
          default: 65536,
          minimum: 64,
          maximum: 16777216,
        },
        maxOutstandingProposals: {
          type: 'integer',
          format: 'int32',
          description: 'Most proposals in flight at once (pipelining depth).',
          default: 16,
          minimum: 1,
          maximum: 1024,
        },
      },
    },
  },
  'x-kubernetes-validations': [
    {
      rule: 'self.failureThreshold < self.recoveryThreshold && self.recoveryThreshold <= self.scoreMax',
      message: 'spec.engine: failureThreshold must be below recoveryThreshold, and recoveryThreshold at most scoreMax',
      fieldPath: '.recoveryThreshold',
    },
  ],
};

const resourcesSpec: JSONSchema = {
  type: 'object',
  title: 'ResourcesSpec',
  description:
    'Compute resources of the agent container, as in a Pod (hugepages-2Mi / hugepages-1Gi allowed: the log is ' +
    'then backed by huge pages). The RDMA device-plugin resource is added by the operator.',
  properties: {
    requests: quantityMap('Minimum resources, by resource name.'),
    limits: quantityMap('Maximum resources, by resource name. Huge pages must be set here.'),
  },
  'x-kubernetes-validations': [
    {
      rule: "!has(self.requests) || self.requests.all(k, !k.startsWith('hugepages-') || (has(self.limits) && k in self.limits))",
      message: 'spec.resources: hugepages must be set in limits (Kubernetes does not overcommit huge pages)',
      fieldPath: '.limits',
    },
    {
      rule:
        "!has(self.limits) || !self.limits.exists(k, k.startsWith('hugepages-')) || 'cpu' in self.limits || " +
        "'memory' in self.limits || (has(self.requests) && ('cpu' in self.requests || 'memory' in self.requests))",
      message: 'spec.resources: hugepages need a cpu or memory request or limit too (a Kubernetes pod rule)',
      fieldPath: '.limits',
    },
  ],
};

const schedulingSpec: JSONSchema = {
  type: 'object',
  title: 'SchedulingSpec',
  description: 'Placement of the replica pods.',
  default: {},
  properties: {
    nodeSelector: stringMap('Node labels the replica pods must match (merged with spec.rdma.nodeSelector).'),
    affinity: coreType('V1Affinity', 'Pod affinity, merged with the anti-affinity chosen by antiAffinity.'),
    tolerations: {
      type: 'array',
      description: 'Tolerations of the replica pods (e.g. for a tainted RDMA node pool).',
      maxItems: 32,
      items: coreType('V1Toleration', 'A toleration, as in a Pod.'),
    },
    antiAffinity: {
      type: 'string',
      description:
        'One replica per node: "required" refuses to co-locate replicas (a node failure then costs at most one ' +
        'member); "preferred" allows it when nodes run short.',
      enum: ['required', 'preferred'],
      default: 'required',
    },
    priorityClassName: { type: 'string', description: 'PriorityClass of the replica pods.', maxLength: 253 },
  },
};

const monitoringSpec: JSONSchema = {
  type: 'object',
  title: 'MonitoringSpec',
  description: 'Metrics and alerting switches. Every agent always serves /metrics on spec.agentPort.',
  default: {},
  properties: {
    podMonitor: {
      type: 'object',
      title: 'PodMonitorSpec',
      description: 'A Prometheus Operator PodMonitor scraping every replica.',
      default: {},
      properties: {
        enabled: { type: 'boolean', description: 'Create the PodMonitor.', default: false },
        interval: {
          type: 'string',
          description: 'Scrape interval.',
          default: '15s',
          pattern: '^([0-9]+(ms|s|m|h))+$',
          maxLength: 32,
        },
        labels: stringMap('Extra labels on the PodMonitor (e.g. the release label your Prometheus selects).'),
      },
    },
    permissionSwitchSlowMicros: {
      type: 'integer',
      format: 'int64',
      description: 'A permission switch slower than this raises a PermissionSwitchSlow Warning event.',
      default: 1000,
      minimum: 1,
    },
  },
};

const muClusterSpec: JSONSchema = {
  type: 'object',
  title: 'MuClusterSpec',
  description: 'Desired state of a Mu replicated state machine.',
  default: {},
  properties: {
    replicas: {
      type: 'integer',
      format: 'int32',
      description: `Number of replicas: odd, from 1 to ${MAX_REPLICAS}. Tolerates floor((replicas-1)/2) failures.`,
      default: 3,
      minimum: 1,
      maximum: MAX_REPLICAS,
      'x-kubernetes-validations': [
        {
          rule: 'self % 2 == 1',
          message:
            'spec.replicas must be odd (1, 3, 5, 7 or 9): an even count tolerates no more failures than one replica fewer',
        },
      ],
    },
    image: {
      type: 'string',
      description: 'Node agent image. Unset: the image the operator was installed with.',
      minLength: 1,
      maxLength: 512,
    },
    imagePullPolicy: {
      type: 'string',
      description: 'Pull policy of the agent image.',
      enum: ['Always', 'IfNotPresent', 'Never'],
    },
    imagePullSecrets: {
      type: 'array',
      description: 'Secrets for pulling the agent image.',
      maxItems: 16,
      items: {
        type: 'object',
        title: 'LocalObjectReference',
        description: "A Secret in the MuCluster's namespace.",
        required: ['name'],
        properties: { name: { type: 'string', description: 'Name of the Secret.', minLength: 1, maxLength: 253 } },
      },
    },
    fabric: {
      type: 'string',
      description:
        'Transport of the replication and background planes: "verbs" uses RDMA NICs (InfiniBand, RoCE v2, ' +
        'Soft-RoCE); "soft" emulates one-sided RDMA over TCP for nodes without RDMA. Immutable.',
      enum: ['verbs', 'soft'],
      default: 'verbs',
      'x-kubernetes-validations': [
        {
          rule: 'self == oldSelf',
          message: 'spec.fabric is immutable: create a new MuCluster to change the transport',
        },
      ],
    },
    rdma: rdmaSpec,
    engine: engineSpec,
    respPort: port(
      'Port of the Redis-protocol (RESP) front end on every replica; the leader Service targets it.',
      6379,
    ),
    agentPort: port("Port of the agent's HTTP endpoints (/healthz, /readyz, /status, /metrics).", 8790),
    fabricPort: port('Port used to set up fabric connections (QP exchange; the data path of the soft fabric).', 8791),
    resources: resourcesSpec,
    scheduling: schedulingSpec,
    podDisruptionBudget: {
      type: 'object',
      title: 'PodDisruptionBudgetSpec',
      description: 'A PodDisruptionBudget that lets voluntary disruptions (drains) take at most a minority.',
      default: {},
      properties: { enabled: { type: 'boolean', description: 'Create the PodDisruptionBudget.', default: true } },
    },
    updateStrategy: {
      type: 'object',
      title: 'UpdateStrategySpec',
      description: 'How pods are replaced when the image or settings change.',
      default: {},
      properties: {
        type: {
          type: 'string',
          description:
            '"RollingUpdate": one pod at a time, followers first, the leader last after a switchover, keeping a ' +
            'quorum. "OnDelete": only pods you delete are recreated with the new settings.',
          enum: ['RollingUpdate', 'OnDelete'],
          default: 'RollingUpdate',
        },
      },
    },
    failoverHistoryLimit: {
      type: 'integer',
      format: 'int32',
      description: 'Failovers kept in status.failoverHistory (newest first). Full distributions are in metrics.',
      default: 10,
      minimum: 0,
      maximum: 50,
    },
    monitoring: monitoringSpec,
  },
  'x-kubernetes-validations': [
    {
      rule: 'self.respPort != self.agentPort && self.respPort != self.fabricPort && self.agentPort != self.fabricPort',
      message:
        'spec.respPort, spec.agentPort and spec.fabricPort must differ: host networking gives them one port space',
      fieldPath: '.agentPort',
    },
  ],
};

const rdmaStatus: JSONSchema = {
  type: 'object',
  title: 'MemberRdmaStatus',
  description: 'The fabric endpoint the agent opened.',
  properties: {
    fabric: { type: 'string', description: 'verbs or soft.', enum: ['verbs', 'soft'] },
    device: { type: 'string', description: 'RDMA device in use (verbs).' },
    port: { type: 'integer', format: 'int32', description: 'Device port in use (verbs).' },
    linkLayer: { type: 'string', description: 'InfiniBand or Ethernet (verbs).' },
    gid: { type: 'string', description: 'GID in use (verbs).' },
    gidIndex: { type: 'integer', format: 'int32', description: 'GID table index in use (verbs).' },
    address: { type: 'string', description: 'Address peers connect to (soft).' },
  },
};

const memberStatus: JSONSchema = {
  type: 'object',
  title: 'MemberStatus',
  description: "One replica as observed through its pod and its agent's /status.",
  required: ['name', 'id'],
  properties: {
    name: { type: 'string', description: 'Pod name (<cluster>-<id>).' },
    id: { type: 'integer', format: 'int32', description: 'Replica id.' },
    node: { type: 'string', description: 'Node the pod runs on.' },
    host: { type: 'string', description: 'Pod (= node, host networking) IP address.' },
    role: {
      type: 'string',
      description: 'Role reported by the agent; "unknown" when its /status could not be read.',
      enum: ['leader', 'follower', 'learner', 'candidate', 'unknown'],
    },
    ready: { type: 'boolean', description: "The pod's Ready condition." },
    lastSeen: time("Last time the agent's /status was read successfully."),
    joinedAt: time(
      'When this replica id first became a voting member (a Ready leader or follower); kept across pod ' +
        'replacements, so a member that comes back is told apart from a new one.',
    ),
    proposalNumber: { type: 'integer', format: 'int64', description: 'Current proposal number reported by the agent.' },
    firstUndecidedOffset: { type: 'integer', format: 'int64', description: 'FUO reported by the agent.' },
    applyLag: { type: 'integer', format: 'int64', description: 'Committed entries not applied yet on this replica.' },
    rdma: rdmaStatus,
    message: { type: 'string', description: 'Why the member is not healthy, if it is not.', maxLength: 1024 },
  },
};

const failoverRecord: JSONSchema = {
  type: 'object',
  title: 'FailoverRecord',
  description:
    'One leader change with its timeline: detection (first missed heartbeat → declared failed), permission switch ' +
    '(candidacy → a majority granted the new leader write access), catch-up (→ logs prepared and brought up to ' +
    "date) and total (first missed heartbeat → first commit). Times come from the new leader's clock.",
  required: ['id'],
  properties: {
    id: { type: 'string', description: 'Identity of the failover, as reported by the new leader.' },
    from: { type: 'string', description: 'Member that lost leadership.' },
    to: { type: 'string', description: 'Member that became leader.' },
    fromId: { type: 'integer', format: 'int32', description: 'Replica id that lost leadership.' },
    toId: { type: 'integer', format: 'int32', description: 'Replica id that became leader.' },
    detectedAt: time('When the new leader declared the old one failed.'),
    completedAt: time('When the new leader committed its first entry.'),
    detectionMicros: micros('First missed heartbeat → failure declared.'),
    permissionSwitchMicros: micros('Candidacy → a majority granted the new leader write permission.'),
    catchUpMicros: micros('Permissions granted → prepare and catch-up of the confirmed followers done.'),
    totalMicros: micros('First missed heartbeat → first commit.'),
    reason: {
      type: 'string',
      description: 'Why leadership moved (e.g. LeaderFailed, LowerIdRecovered).',
      maxLength: 256,
    },
  },
};

const condition: JSONSchema = {
  type: 'object',
  title: 'Condition',
  description: 'A metav1.Condition.',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: {
      type: 'string',
      description: 'Ready, Available, Progressing, Degraded or ReconciliationPaused.',
      maxLength: 316,
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    },
    status: { type: 'string', description: 'True, False or Unknown.', enum: ['True', 'False', 'Unknown'] },
    observedGeneration: {
      type: 'integer',
      format: 'int64',
      minimum: 0,
      description: 'metadata.generation the condition was computed from.',
    },
    lastTransitionTime: time('When status last changed.'),
    reason: {
      type: 'string',
      description: 'CamelCase reason.',
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    },
    message: { type: 'string', description: 'Human-readable details.', maxLength: 32768 },
  },
};

const muClusterStatus: JSONSchema = {
  type: 'object',
  title: 'MuClusterStatus',
  description: "Observed state, gathered from the pods and each agent's /status. Written only by the operator.",
  properties: {
    observedGeneration: { type: 'integer', format: 'int64', description: 'metadata.generation last reconciled.' },
    replicas: { type: 'integer', format: 'int32', description: 'Replica pods that exist (scale subresource).' },
    readyReplicas: { type: 'integer', format: 'int32', description: 'Replica pods that are Ready.' },
    selector: { type: 'string', description: 'Label selector of the replica pods (scale subresource).' },
    phase: {
      type: 'string',
      description: 'One-word summary for humans; automation should read conditions.',
      enum: ['Pending', 'Bootstrapping', 'Ready', 'Degraded', 'Scaling', 'Updating', 'QuorumLost'],
    },
    bootstrappedAt: time('When the first members were created with the bootstrap flag. Set once; never cleared.'),
    leader: {
      type: 'object',
      title: 'LeaderStatus',
      description: 'The leader as reported by the agents (observation; see targetLeader for intent).',
      required: ['member', 'id'],
      properties: {
        member: { type: 'string', description: 'Pod name of the leader.' },
        id: { type: 'integer', format: 'int32', description: 'Replica id of the leader.' },
        node: { type: 'string', description: 'Node the leader runs on.' },
        since: time('When this member became leader.'),
      },
    },
    targetLeader: {
      type: 'string',
      description: 'Member the operator is moving leadership to (switchover), if any. Intent, not observation.',
    },
    members: {
      type: 'array',
      description: 'Every replica, by id.',
      maxItems: 64,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
      items: memberStatus,
    },
    lastFailover: failoverRecord,
    failoverHistory: {
      type: 'array',
      description: 'Latest failovers, newest first, at most spec.failoverHistoryLimit.',
      maxItems: 50,
      items: failoverRecord,
    },
    failoverCount: {
      type: 'integer',
      format: 'int64',
      description: 'Failovers observed since the cluster was created.',
    },
    permissionSwitch: {
      type: 'object',
      title: 'PermissionSwitchStatus',
      description: "Permission switch timings over the agents' recent samples.",
      properties: {
        samples: { type: 'integer', format: 'int64', description: 'Samples the percentiles are computed over.' },
        p50Micros: micros('Median permission switch duration.'),
        p99Micros: micros('99th percentile permission switch duration.'),
        mechanismCounts: {
          type: 'object',
          description: 'Switches performed by each mechanism (accessFlags, qpCycle, mrReregister), all agents summed.',
          maxProperties: 8,
          additionalProperties: { type: 'integer', format: 'int64' },
        },
      },
    },
    conditions: {
      type: 'array',
      description: 'Ready, Available, Progressing, Degraded, ReconciliationPaused.',
      maxItems: 16,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      items: condition,
    },
  },
};

/** The schema of a whole MuCluster object (the CRD's `openAPIV3Schema`). */
export const muClusterSchema: JSONSchema = {
  type: 'object',
  description:
    'A Mu cluster: replicated state machine over one-sided RDMA with microsecond failover. Clients talk RESP to ' +
    'the <name>-leader Service.',
  properties: {
    apiVersion: { type: 'string', description: 'APIVersion of this object.' },
    kind: { type: 'string', description: 'Kind of this object.' },
    // Nothing but the type: kube-apiserver refuses a CRD whose root metadata schema says more (even a description).
    metadata: { type: 'object' },
    spec: muClusterSpec,
    status: muClusterStatus,
  },
  'x-kubernetes-validations': [
    {
      rule: 'self.metadata.name.size() <= 52',
      message:
        'metadata.name must be at most 52 characters: it prefixes the Services and Secret of the cluster ' +
        '(<name>-members, <name>-fabric-key)',
    },
    {
      rule: "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
      message: "metadata.name must be a DNS label starting with a letter: it names the cluster's Services",
    },
  ],
};
