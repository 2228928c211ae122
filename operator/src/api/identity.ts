// The API identity of the MuCluster resource: every other file names the group, version and kind through these.

export const API_GROUP = 'mu.rdma.dev';
export const API_VERSION = 'v1alpha1';
/** The `apiVersion` field of a MuCluster object. */
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}` as const;
export const KIND = 'MuCluster';
export const LIST_KIND = 'MuClusterList';
export const PLURAL = 'muclusters';
export const SINGULAR = 'mucluster';
export const SHORT_NAMES = ['mu'] as const;
// Not in the `all` category: `kubectl delete all --all` must not take an in-memory replicated store with it.
export const CATEGORIES = ['mu'] as const;
/** Name of the CustomResourceDefinition object: `<plural>.<group>`. */
export const CRD_NAME = `${PLURAL}.${API_GROUP}` as const;
