// Node objects for the stand-in's nodes, kept Ready the way a kubelet does: a Lease in kube-node-lease renewed every
// 10 s (what the node lifecycle controller watches) and the Ready condition's heartbeat refreshed every minute.
import type { V1Node } from '@kubernetes/client-node';
import { objectPath, collectionPath, RESOURCES } from '../../operator/src/kube/paths.js';
import { isAlreadyExists, isNotFound, type KubeClient } from '../../operator/src/kube/rest.js';
import type { NodeNetwork } from './network.js';

export const RDMA_CAPABLE_LABEL = 'feature.node.kubernetes.io/rdma.capable';
export const STANDIN_LABEL = 'mu.rdma.dev/kubelet-standin';
export const RDMA_RESOURCE = 'rdma/hca_shared_devices_a';
const LEASE_NAMESPACE = 'kube-node-lease';
const LEASE_DURATION_SECONDS = 40;
export const LEASE_RENEW_MS = 10_000;
export const STATUS_REFRESH_MS = 60_000;
export const STANDIN_VERSION = 'v1.34.4-mu-kubelet-standin';

export function nodeObject(node: NodeNetwork): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      labels: {
        'kubernetes.io/hostname': node.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        [RDMA_CAPABLE_LABEL]: 'true',
        [STANDIN_LABEL]: 'true',
      },
    },
    spec: {},
  };
}

export function nodeStatus(node: NodeNetwork, now: Date): V1Node['status'] {
  const capacity = {
    cpu: '8',
    memory: '16Gi',
    pods: '110',
    'ephemeral-storage': '50Gi',
    'hugepages-2Mi': '1Gi',
    'hugepages-1Gi': '0',
    [RDMA_RESOURCE]: '100',
  };
  const t = now.toISOString().replace(/\.\d+Z$/, 'Z') as unknown as Date; // wire format: RFC 3339 seconds
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: t,
    lastTransitionTime: t,
  });
  return {
    capacity,
    allocatable: capacity,
    conditions: [
      condition('Ready', 'True', 'KubeletReady', 'kubelet stand-in is posting ready status'),
      condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'stand-in'),
      condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'stand-in'),
      condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'stand-in'),
    ],
    addresses: [
      { type: 'InternalIP', address: node.address },
      { type: 'Hostname', address: node.name },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
    nodeInfo: {
      machineID: node.name,
      systemUUID: node.name,
      bootID: node.name,
      kernelVersion: 'stand-in',
      osImage: 'mu kubelet stand-in',
      containerRuntimeVersion: 'process://stand-in',
      kubeletVersion: STANDIN_VERSION,
      kubeProxyVersion: '',
      operatingSystem: 'linux',
      architecture: 'amd64',
    },
  };
}

/** Creates the Node (or takes over an existing one) and posts its status. */
export async function registerNode(client: KubeClient, node: NodeNetwork, now: Date): Promise<void> {
  try {
    await client.create(collectionPath(RESOURCES.nodes), nodeObject(node));
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    await client.patch(objectPath(RESOURCES.nodes, undefined, node.name), 'merge', {
      metadata: { labels: nodeObject(node).metadata!.labels },
    });
  }
  await postStatus(client, node, now);
}

export async function postStatus(client: KubeClient, node: NodeNetwork, now: Date): Promise<void> {
  await client.patch(objectPath(RESOURCES.nodes, undefined, node.name, 'status'), 'merge', {
    status: nodeStatus(node, now),
  });
}

function microTime(now: Date): string {
  return now.toISOString().replace('Z', '000Z');
}

export async function renewLease(client: KubeClient, node: NodeNetwork, now: Date): Promise<void> {
  const path = objectPath(RESOURCES.leases, LEASE_NAMESPACE, node.name);
  const spec = { holderIdentity: node.name, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: microTime(now) };
  try {
    await client.patch(path, 'merge', { spec });
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await client.create(collectionPath(RESOURCES.leases, LEASE_NAMESPACE), {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: node.name, namespace: LEASE_NAMESPACE },
      spec,
    });
  }
}
