// Applies schema defaults to a value the way the API server does (structural defaulting): a missing property with a
// default gets a copy of it, then defaulting continues inside it — which is why parents carry `default: {}`.
// The operator reads defaulted objects from the API server; this lets tests and tools start from what a user wrote.
import type { JSONSchema } from './json-schema.js';

export function applyDefaults<T>(schema: JSONSchema, value: T): T {
  return fill(schema, structuredClone(value)) as T;
}

function fill(s: JSONSchema, v: unknown): unknown {
  if (Array.isArray(v)) {
    if (s.items) for (let i = 0; i < v.length; i++) v[i] = fill(s.items, v[i]);
    return v;
  }
  if (typeof v !== 'object' || v === null) return v;
  const obj = v as Record<string, unknown>;
  for (const [key, prop] of Object.entries(s.properties ?? {})) {
    if (obj[key] === undefined && prop.default !== undefined) obj[key] = structuredClone(prop.default);
  }
  for (const key of Object.keys(obj)) {
    const prop = s.properties?.[key] ?? s.additionalProperties;
    if (prop) obj[key] = fill(prop, obj[key]);
  }
  return obj;
}
