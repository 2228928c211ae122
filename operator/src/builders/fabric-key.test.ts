import { newMuCluster } from '../api/new-cluster.js';
import { buildFabricKeySecret, FABRIC_KEY_BYTES, FABRIC_KEY_SECRET_KEY, generateFabricKey } from './fabric-key.js';

describe('fabric key', () => {
  const cluster = newMuCluster({ name: 'demo', uid: 'u' });

  it('is 32 bytes from the injected random source (crypto.randomBytes by default)', () => {
    const sizes: number[] = [];
    const key = generateFabricKey((n) => {
      sizes.push(n);
      return Buffer.alloc(n, 7);
    });
    expect(sizes).toEqual([FABRIC_KEY_BYTES]);
    expect(key).toEqual(Buffer.alloc(32, 7));
    const a = generateFabricKey();
    const b = generateFabricKey();
    expect(a).toHaveLength(32);
    expect(a.equals(b)).toBe(false);
  });

  it('refuses a random source that returns the wrong size', () => {
    expect(() => generateFabricKey(() => Buffer.alloc(3))).toThrow(/32 bytes/);
  });

  it('goes into an immutable, owned Secret, base64-encoded', () => {
    const key = Buffer.alloc(32, 1);
    const secret = buildFabricKeySecret(cluster, key);
    expect(secret).toMatchObject({
      kind: 'Secret',
      type: 'Opaque',
      immutable: true,
      metadata: { name: 'demo-fabric-key', ownerReferences: [expect.objectContaining({ controller: true })] },
    });
    expect(Buffer.from(secret.data![FABRIC_KEY_SECRET_KEY]!, 'base64')).toEqual(key);
    expect(() => buildFabricKeySecret(cluster, Buffer.alloc(16))).toThrow(/32 bytes/);
  });
});
