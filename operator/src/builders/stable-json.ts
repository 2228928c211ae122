// JSON with object keys sorted, so equal values always serialize (and hash) identically.
import { createHash } from 'node:crypto';

export function stableJson(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
      const obj = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(obj)
          .sort()
          .map((k) => [k, obj[k]]),
      );
    },
    indent,
  );
}

/** Short content hash for annotations: 16 hex digits of SHA-256 (collisions are not a concern at this scale). */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex').slice(0, 16);
}
