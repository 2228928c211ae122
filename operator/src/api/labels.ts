// Label and annotation keys the operator puts on (or reads from) objects. One place, so selectors and builders agree.
import { API_GROUP } from './identity.js';

/** Recommended labels (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/). */
export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_PART_OF = 'app.kubernetes.io/part-of';

export const APP_NAME = 'mu';
export const MANAGER_NAME = 'mu-operator';

/**
 * The MuCluster a Pod/Service/... belongs to. Selectors use this, not app.kubernetes.io/instance (which users may
 * set on their own objects too).
 */
export const LABEL_CLUSTER = `${API_GROUP}/cluster`;
/** Replica id 0..n-1, stable for the life of the member. */
export const LABEL_REPLICA_ID = `${API_GROUP}/replica-id`;
/**
 * Role as last reported by the agents (leader | follower | learner). Written only by the status relabeler, never by
 * the pod builder, so that reconciling a pod never fights the relabeling that moves the `<name>-leader` Service.
 */
export const LABEL_ROLE = `${API_GROUP}/role`;
export const ROLE_LEADER = 'leader';

/** Hash of everything in the pod that needs a restart to change; a differing hash marks the pod outdated. */
export const ANNOTATION_POD_SPEC_HASH = `${API_GROUP}/pod-spec-hash`;
/** Set to "true" on a MuCluster to stop reconciliation (status is still observed and reported). */
export const ANNOTATION_RECONCILIATION_PAUSED = `${API_GROUP}/reconciliation-paused`;
/**
 * Set by `kubectl mu switchover NAME --to MEMBER` on a MuCluster: the member that should lead. The operator records it
 * as status.targetLeader, asks the current leader's agent to hand over, and removes the annotation when done.
 */
export const ANNOTATION_SWITCHOVER_TO = `${API_GROUP}/switchover-to`;
/**
 * Set by the rolling update on the leader pod when it asked the leader's agent to hand leadership over before the pod
 * is replaced: when it asked (RFC 3339). If leadership has not moved within the handover timeout, the pod is replaced
 * anyway (the engine then fails over by itself).
 */
export const ANNOTATION_HANDOVER_REQUESTED_AT = `${API_GROUP}/handover-requested-at`;
/** Set with the above once the leader's agent accepted the handover (202): the member leadership goes to. */
export const ANNOTATION_HANDOVER_TO = `${API_GROUP}/handover-to`;
