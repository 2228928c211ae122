// The ConfigMap holding cluster.json, mounted into every replica.
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { MuCluster } from '../api/types.js';
import { buildClusterConfig } from './cluster-config.js';
import { ownedMetadata } from './metadata.js';
import { configMapName } from './names.js';
import type { BuilderOptions } from './options.js';
import { stableJson } from './stable-json.js';

export const CLUSTER_CONFIG_KEY = 'cluster.json';

export function buildConfigMap(cluster: MuCluster, options: BuilderOptions): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: ownedMetadata(cluster, configMapName(cluster), 'config'),
    // Stable key order: an unchanged cluster yields a byte-identical ConfigMap, so reconcile does not churn it.
    data: { [CLUSTER_CONFIG_KEY]: `${stableJson(buildClusterConfig(cluster, options), 2)}\n` },
  };
}
