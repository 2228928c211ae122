// The cluster's fabric key: peers of the soft fabric (and the verbs connection setup) authenticate with it.
// Generated once; the Secret is immutable and the reconciler only creates it when absent, so it is never rotated
// by accident (a new key would cut every live replica off from the others).
import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { MuCluster } from '../api/types.js';
import { ownedMetadata } from './metadata.js';
import { fabricKeySecretName } from './names.js';

export const FABRIC_KEY_BYTES = 32;
export const FABRIC_KEY_SECRET_KEY = 'fabric-key';

export function generateFabricKey(random: (size: number) => Buffer = randomBytes): Buffer {
  const key = random(FABRIC_KEY_BYTES);
  if (key.length !== FABRIC_KEY_BYTES)
    throw new Error(`fabric key must be ${FABRIC_KEY_BYTES} bytes, got ${key.length}`);
  return key;
}

export function buildFabricKeySecret(cluster: MuCluster, key: Buffer): V1Secret {
  if (key.length !== FABRIC_KEY_BYTES)
    throw new Error(`fabric key must be ${FABRIC_KEY_BYTES} bytes, got ${key.length}`);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: ownedMetadata(cluster, fabricKeySecretName(cluster), 'fabric-key'),
    type: 'Opaque',
    immutable: true,
    data: { [FABRIC_KEY_SECRET_KEY]: key.toString('base64') },
  };
}
