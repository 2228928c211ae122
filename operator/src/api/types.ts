// The MuCluster TypeScript types. Spec and status types are generated from schema.ts (api/generated/); this file adds
// the object envelope. Types describe the wire (JSON) shape: times are RFC 3339 strings, not Date.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { MemberStatus, MuClusterSpec, MuClusterStatus } from './generated/mucluster.js';
import type { API_GROUP_VERSION, KIND } from './identity.js';

export type * from './generated/mucluster.js';

/** Object metadata as it arrives over the wire (client-node's V1ObjectMeta types timestamps as Date). */
export type MuClusterMetadata = Omit<V1ObjectMeta, 'creationTimestamp' | 'deletionTimestamp'> & {
  name: string;
  namespace: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
};

/** A MuCluster as read from the API server: every defaulted spec field is present. */
export interface MuCluster {
  apiVersion: typeof API_GROUP_VERSION;
  kind: typeof KIND;
  metadata: MuClusterMetadata;
  spec: MuClusterSpec;
  status?: MuClusterStatus;
}

export type Fabric = MuClusterSpec['fabric'];
export type MemberRole = NonNullable<MemberStatus['role']>;
export type ClusterPhase = NonNullable<MuClusterStatus['phase']>;
