// How the operator hands configuration to the node agent inside a replica pod: mount paths, flags and environment.
// The agent's CLI parses exactly these; change both sides together.

export const CONFIG_MOUNT_DIR = '/etc/mu/config';
export const FABRIC_KEY_MOUNT_DIR = '/etc/mu/secret';
/** Each hugepage size gets its own emptyDir at <prefix><size>, e.g. /dev/hugepages-2Mi. */
export const HUGEPAGES_MOUNT_PREFIX = '/dev/hugepages-';

export const AGENT_FLAGS = {
  replicaId: '--replica-id',
  config: '--config',
  fabricKeyFile: '--fabric-key-file',
  /** Start a brand-new cluster. Given only to the first members of a never-bootstrapped cluster, never to a
   * replacement: a replacement must rejoin as a learner, or a majority could forget acknowledged writes. */
  bootstrap: '--bootstrap',
} as const;

export const AGENT_ENV = {
  replicaId: 'MU_REPLICA_ID',
  podName: 'MU_POD_NAME',
  namespace: 'MU_POD_NAMESPACE',
  nodeName: 'MU_NODE_NAME',
  podIP: 'MU_POD_IP',
  /** Comma-separated hugetlbfs mount points, when huge pages were requested. */
  hugepagesDirs: 'MU_HUGEPAGES_DIRS',
  /** The container's terminationMessagePath: an agent that exits on an error writes "<Code>: <message>" there. */
  terminationMessagePath: 'MU_TERMINATION_MESSAGE_PATH',
} as const;

/** Where the agent leaves its exit reason; the operator reads it from the pod status (e.g. MemlockTooLow). */
export const AGENT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';

export const AGENT_HEALTH_PATH = '/healthz';
export const AGENT_READY_PATH = '/readyz';
export const AGENT_STATUS_PATH = '/status';
/**
 * Leadership handover, asked of the current leader's agent by the operator (`kubectl mu switchover`): POST with a
 * JSON body {"to": <replica id>}; 202 when the handover started, 409 when this agent does not lead, 404 when the
 * agent does not offer it (the operator then reports SwitchoverNotSupported).
 */
export const AGENT_SWITCHOVER_PATH = '/switchover';
