// One Pod per replica: stable name <cluster>-<id>, host networking (RDMA and the RESP port live on the node's
// address), the RDMA device-plugin resource, IPC_LOCK for registering (pinning) the log, probes on the agent.
// No StatefulSet: the operator must choose which pod goes first (followers before the leader) and pass the
// bootstrap flag to exactly the first members, which a StatefulSet's ordinal rules cannot express.
import type {
  V1Affinity,
  V1Container,
  V1EnvVar,
  V1Pod,
  V1PodSpec,
  V1ResourceRequirements,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { ANNOTATION_POD_SPEC_HASH, LABEL_REPLICA_ID } from '../api/labels.js';
import type { MuCluster } from '../api/types.js';
import {
  AGENT_ENV,
  AGENT_FLAGS,
  AGENT_TERMINATION_MESSAGE_PATH,
  AGENT_HEALTH_PATH,
  AGENT_READY_PATH,
  CONFIG_MOUNT_DIR,
  FABRIC_KEY_MOUNT_DIR,
  HUGEPAGES_MOUNT_PREFIX,
} from './agent-contract.js';
import { buildClusterConfig } from './cluster-config.js';
import { CLUSTER_CONFIG_KEY } from './config-map.js';
import type { Decision } from './decision.js';
import { FABRIC_KEY_SECRET_KEY } from './fabric-key.js';
import { ownedMetadata } from './metadata.js';
import { configMapName, fabricKeySecretName, membersServiceName, podName } from './names.js';
import type { BuilderOptions } from './options.js';
import { affinityDecision, hugepagesDecision, nodeSelectorDecision, rdmaResourceDecision } from './pod-decisions.js';
import { contentHash } from './stable-json.js';

export const AGENT_CONTAINER = 'agent';

export interface PodInputs {
  replicaId: number;
  /** Only for the first members of a cluster that was never bootstrapped (see AGENT_FLAGS.bootstrap). */
  bootstrap: boolean;
}

export interface DesiredPod {
  pod: V1Pod;
  /**
   * Also in the pod's ANNOTATION_POD_SPEC_HASH, and equal for every replica of the cluster: a pod whose
   * annotation differs from it is outdated and gets rolled.
   */
  specHash: string;
  decisions: {
    rdmaResource: Decision<string | undefined>;
    nodeSelector: Decision<Record<string, string>>;
    affinity: Decision<V1Affinity>;
    hugepages: Decision<string[]>;
  };
}

export function buildPod(cluster: MuCluster, inputs: PodInputs, options: BuilderOptions): DesiredPod {
  const { replicaId } = inputs;
  if (!Number.isInteger(replicaId) || replicaId < 0) throw new RangeError(`replica id must be ≥ 0: ${replicaId}`);
  const decisions = {
    rdmaResource: rdmaResourceDecision(cluster),
    nodeSelector: nodeSelectorDecision(cluster),
    affinity: affinityDecision(cluster),
    hugepages: hugepagesDecision(cluster),
  };
  // Hashed from one template (replica 0, no bootstrap flag), so every replica carries the same hash: what differs
  // between replicas follows from the id alone, and the first members must not look outdated next to their
  // replacements for having been bootstrapped.
  const specHash = podSpecHash(
    cluster,
    podSpec(cluster, { replicaId: 0, bootstrap: false }, options, decisions),
    options,
  );
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...ownedMetadata(cluster, podName(cluster, replicaId), 'replica', { [LABEL_REPLICA_ID]: String(replicaId) }),
      annotations: { [ANNOTATION_POD_SPEC_HASH]: specHash },
    },
    spec: podSpec(cluster, inputs, options, decisions),
  };
  return { pod, specHash, decisions };
}

/**
 * Everything a running replica cannot pick up without a restart: the pod spec and the engine/fabric part of
 * cluster.json. The member list is left out: scaling updates the ConfigMap and must not roll every pod.
 */
function podSpecHash(cluster: MuCluster, spec: V1PodSpec, options: BuilderOptions): string {
  const { members: _members, ...restartRelevant } = buildClusterConfig(cluster, options);
  return contentHash({ spec, config: restartRelevant });
}

function podSpec(
  cluster: MuCluster,
  inputs: PodInputs,
  options: BuilderOptions,
  decisions: DesiredPod['decisions'],
): V1PodSpec {
  const { spec } = cluster;
  const hugepageSizes = decisions.hugepages.value;
  const volumes: V1Volume[] = [
    { name: 'config', configMap: { name: configMapName(cluster) } },
    { name: 'fabric-key', secret: { secretName: fabricKeySecretName(cluster), defaultMode: 0o400 } },
    ...hugepageSizes.map((size) => ({ name: hugepagesVolume(size), emptyDir: { medium: `HugePages-${size}` } })),
  ];
  const mounts: V1VolumeMount[] = [
    { name: 'config', mountPath: CONFIG_MOUNT_DIR, readOnly: true },
    { name: 'fabric-key', mountPath: FABRIC_KEY_MOUNT_DIR, readOnly: true },
    ...hugepageSizes.map((size) => ({ name: hugepagesVolume(size), mountPath: `${HUGEPAGES_MOUNT_PREFIX}${size}` })),
  ];
  const container: V1Container = {
    name: AGENT_CONTAINER,
    image: spec.image ?? options.defaultImage,
    ...(spec.imagePullPolicy ? { imagePullPolicy: spec.imagePullPolicy } : {}),
    command: [...options.agentCommand],
    args: [
      `${AGENT_FLAGS.replicaId}=${inputs.replicaId}`,
      `${AGENT_FLAGS.config}=${CONFIG_MOUNT_DIR}/${CLUSTER_CONFIG_KEY}`,
      `${AGENT_FLAGS.fabricKeyFile}=${FABRIC_KEY_MOUNT_DIR}/${FABRIC_KEY_SECRET_KEY}`,
      ...(inputs.bootstrap ? [AGENT_FLAGS.bootstrap] : []),
    ],
    env: agentEnv(inputs.replicaId, hugepageSizes),
    ports: [
      { name: 'resp', containerPort: spec.respPort, protocol: 'TCP' },
      { name: 'agent', containerPort: spec.agentPort, protocol: 'TCP' },
      { name: 'fabric', containerPort: spec.fabricPort, protocol: 'TCP' },
    ],
    resources: resources(cluster, decisions.rdmaResource.value),
    securityContext: {
      // IPC_LOCK: the log and the background region are registered with the NIC, i.e. pinned in memory, beyond
      // the default memlock limit. Added capabilities are effective only for root, so the agent image runs as
      // root with every other capability dropped (ports are ≥ 1024: no NET_BIND_SERVICE needed).
      capabilities: { add: ['IPC_LOCK'], drop: ['ALL'] },
      allowPrivilegeEscalation: false,
    },
    readinessProbe: {
      httpGet: { path: AGENT_READY_PATH, port: 'agent' },
      periodSeconds: 2,
      timeoutSeconds: 1,
      failureThreshold: 2,
    },
    livenessProbe: {
      httpGet: { path: AGENT_HEALTH_PATH, port: 'agent' },
      initialDelaySeconds: 5,
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
    volumeMounts: mounts,
    terminationMessagePath: AGENT_TERMINATION_MESSAGE_PATH,
    // An agent that dies before it could write the reason (a crash) still leaves its last log lines.
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  const nodeSelector = decisions.nodeSelector.value;
  return {
    hostNetwork: true,
    // Host networking would otherwise resolve with the node's resolv.conf and miss the members Service names.
    dnsPolicy: 'ClusterFirstWithHostNet',
    hostname: podName(cluster, inputs.replicaId),
    subdomain: membersServiceName(cluster),
    // The agent never talks to the API server: the operator polls it.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    // Mu keeps its log in memory: a restarted container rejoins as a learner and copies the log back. Not so a
    // container started with --bootstrap: restarted in place it would run with the same flag and come back as a
    // voter with an empty log, which can make a majority forget an acknowledged write (DESIGN.md §3.6). A
    // bootstrap member therefore never restarts in place: when it exits, the pods step replaces the finished pod
    // with a new one without the flag, which joins as a learner.
    restartPolicy: inputs.bootstrap ? 'Never' : 'Always',
    terminationGracePeriodSeconds: 10,
    ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
    affinity: decisions.affinity.value,
    ...(spec.scheduling.tolerations ? { tolerations: spec.scheduling.tolerations } : {}),
    ...(spec.scheduling.priorityClassName ? { priorityClassName: spec.scheduling.priorityClassName } : {}),
    ...(spec.imagePullSecrets ? { imagePullSecrets: spec.imagePullSecrets.map((s) => ({ name: s.name })) } : {}),
    containers: [container],
    volumes,
  };
}

function hugepagesVolume(size: string): string {
  return `hugepages-${size.toLowerCase()}`;
}

function agentEnv(replicaId: number, hugepageSizes: string[]): V1EnvVar[] {
  const env: V1EnvVar[] = [
    { name: AGENT_ENV.replicaId, value: String(replicaId) },
    { name: AGENT_ENV.podName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: AGENT_ENV.namespace, valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: AGENT_ENV.nodeName, valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
    { name: AGENT_ENV.podIP, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: AGENT_ENV.terminationMessagePath, value: AGENT_TERMINATION_MESSAGE_PATH },
  ];
  if (hugepageSizes.length > 0) {
    env.push({
      name: AGENT_ENV.hugepagesDirs,
      value: hugepageSizes.map((s) => `${HUGEPAGES_MOUNT_PREFIX}${s}`).join(','),
    });
  }
  return env;
}

/** The user's requests/limits (quantities as strings) plus one unit of the RDMA resource, request = limit. */
function resources(cluster: MuCluster, rdmaResource: string | undefined): V1ResourceRequirements {
  const asStrings = (m: Record<string, number | string> | undefined): Record<string, string> =>
    Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, String(v)]));
  const requests = asStrings(cluster.spec.resources?.requests);
  const limits = asStrings(cluster.spec.resources?.limits);
  if (rdmaResource) {
    // Extended resources cannot be overcommitted: request and limit must be equal.
    requests[rdmaResource] = '1';
    limits[rdmaResource] = '1';
  }
  return {
    ...(Object.keys(requests).length > 0 ? { requests } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  };
}
