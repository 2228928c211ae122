// Checks a value against a schema node the way the API server's OpenAPI validation does (types, enums, bounds,
// patterns, required, sizes). CEL rules are not evaluated here: the API server is their only judge.
import type { JSONSchema } from './json-schema.js';

/** Returns one message per violation, each starting with the path of the offending field (e.g. spec.rdma.port). */
export function schemaViolations(schema: JSONSchema, value: unknown, path: string): string[] {
  const out: string[] = [];
  check(schema, value, path, out);
  return out;
}

function check(s: JSONSchema, v: unknown, path: string, out: string[]): void {
  if (s['x-kubernetes-int-or-string']) {
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) out.push(`${path}: must be an integer or a string`);
    } else if (typeof v === 'string') {
      if (s.pattern && !new RegExp(s.pattern).test(v)) out.push(`${path}: "${v}" does not match ${s.pattern}`);
    } else {
      out.push(`${path}: must be an integer or a string`);
    }
    return;
  }
  if (s.enum && !s.enum.includes(v as string | number)) {
    out.push(`${path}: ${JSON.stringify(v)} is not one of ${s.enum.join(', ')}`);
  }
  switch (s.type) {
    case 'string':
      if (typeof v !== 'string') return void out.push(`${path}: must be a string`);
      if (s.minLength !== undefined && v.length < s.minLength) out.push(`${path}: shorter than ${s.minLength}`);
      if (s.maxLength !== undefined && v.length > s.maxLength) out.push(`${path}: longer than ${s.maxLength}`);
      if (s.pattern && !new RegExp(s.pattern).test(v)) out.push(`${path}: "${v}" does not match ${s.pattern}`);
      if (s.format === 'date-time' && Number.isNaN(Date.parse(v))) out.push(`${path}: not an RFC 3339 date-time`);
      return;
    case 'integer':
    case 'number':
      if (typeof v !== 'number' || (s.type === 'integer' && !Number.isInteger(v))) {
        return void out.push(`${path}: must be ${s.type === 'integer' ? 'an integer' : 'a number'}`);
      }
      if (s.minimum !== undefined && v < s.minimum) out.push(`${path}: ${v} is below the minimum ${s.minimum}`);
      if (s.maximum !== undefined && v > s.maximum) out.push(`${path}: ${v} is above the maximum ${s.maximum}`);
      return;
    case 'boolean':
      if (typeof v !== 'boolean') out.push(`${path}: must be a boolean`);
      return;
    case 'array':
      if (!Array.isArray(v)) return void out.push(`${path}: must be an array`);
      if (s.minItems !== undefined && v.length < s.minItems) out.push(`${path}: fewer than ${s.minItems} items`);
      if (s.maxItems !== undefined && v.length > s.maxItems) out.push(`${path}: more than ${s.maxItems} items`);
      if (s.items) v.forEach((item, i) => check(s.items!, item, `${path}[${i}]`, out));
      return;
    case 'object': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return void out.push(`${path}: must be an object`);
      const obj = v as Record<string, unknown>;
      if (s['x-kubernetes-preserve-unknown-fields'] && !s.properties) return;
      const keys = Object.keys(obj);
      if (s.maxProperties !== undefined && keys.length > s.maxProperties) {
        out.push(`${path}: more than ${s.maxProperties} entries`);
      }
      for (const r of s.required ?? []) if (!(r in obj)) out.push(`${path}.${r}: required`);
      for (const k of keys) {
        const prop = s.properties?.[k] ?? s.additionalProperties;
        if (prop) check(prop, obj[k], `${path}.${k}`, out);
        else if (s.properties) out.push(`${path}.${k}: unknown field`);
      }
      return;
    }
    default:
      out.push(`${path}: schema node has no type`);
  }
}
