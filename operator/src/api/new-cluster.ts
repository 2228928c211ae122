// Builds a MuCluster the way the API server would return it after `kubectl apply`: the spec the user wrote, with
// the schema's defaults filled in. For tests, dry runs and tools; the operator itself reads defaulted objects.
import { applyDefaults } from './defaults.js';
import { API_GROUP_VERSION, KIND } from './identity.js';
import { muClusterSchema } from './schema.js';
import type { MuCluster, MuClusterMetadata, MuClusterSpec } from './types.js';

/** What a user may write: every field optional, at every depth (arrays and maps are taken whole). */
export type SpecInput<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: SpecInput<T[K]> }
    : T;

export function newMuCluster(
  metadata: Partial<MuClusterMetadata> & { name: string },
  spec: SpecInput<MuClusterSpec> = {},
): MuCluster {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: KIND,
    metadata: { namespace: 'default', ...metadata },
    spec: applyDefaults(muClusterSchema.properties!.spec!, spec) as MuClusterSpec,
  };
}
