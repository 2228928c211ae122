// Lints the schema itself before it becomes a CRD: the API server's structural-schema rules we rely on, plus our own
// conventions (descriptions everywhere, titled objects, bounded arrays, CEL messages that name their field).
// hack/gen-crd.ts refuses to write a CRD with problems; a test keeps the list empty.
import { applyDefaults } from './defaults.js';
import type { JSONSchema } from './json-schema.js';
import { schemaViolations } from './validate.js';

export function structuralProblems(root: JSONSchema): string[] {
  const problems: string[] = [];
  const titles = new Map<string, JSONSchema>();

  function visit(s: JSONSchema, path: string, isProperty: boolean): void {
    const say = (msg: string): void => void problems.push(`${path}: ${msg}`);
    if (s['x-kubernetes-int-or-string']) {
      const kinds = (s.anyOf ?? []).map((a) => a.type).join(',');
      if (s.type !== undefined) say('int-or-string must not set type');
      if (kinds !== 'integer,string') say('int-or-string needs anyOf [{type: integer}, {type: string}]');
    } else if (!s.type) {
      say('no type');
    }
    // The root metadata is the exception: the API server rejects a description there (see the check at the end).
    if (isProperty && !s.description && path !== 'metadata') say('no description');
    if (s.title) {
      const other = titles.get(s.title);
      if (other && other !== s) say(`title ${s.title} is used by another schema object`);
      titles.set(s.title, s);
    }
    if (s.type === 'object') {
      if (s.properties && s.additionalProperties) say('properties and additionalProperties are exclusive');
      if (s.properties && !s.title && path !== '') say('object without a title (it names the generated type)');
      for (const r of s.required ?? []) if (!s.properties?.[r]) say(`required "${r}" is not a property`);
      if (s.additionalProperties && s.maxProperties === undefined) say('map without maxProperties');
    }
    if (s.type === 'array') {
      if (!s.items) say('array without items');
      if (s.maxItems === undefined) say('array without maxItems (status size and CEL cost need a bound)');
      if (s['x-kubernetes-list-type'] === 'map') {
        for (const key of s['x-kubernetes-list-map-keys'] ?? []) {
          if (!s.items?.required?.includes(key)) say(`list-map key "${key}" must be a required item property`);
        }
      }
    }
    if (s.enum) {
      const want = s.type === 'string' ? 'string' : 'number';
      if (s.enum.some((e) => typeof e !== want)) say(`enum values must be ${want}s`);
    }
    if (s.default !== undefined) {
      // The API server defaults inside a default too, then validates the result.
      for (const v of schemaViolations(s, applyDefaults(s, s.default), 'default')) say(`invalid default: ${v}`);
    }
    for (const rule of s['x-kubernetes-validations'] ?? []) {
      if (!rule.rule.trim()) say('empty CEL rule');
      if (!/\b(spec|metadata)\.[A-Za-z]/.test(rule.message))
        say(`CEL message does not name its field: ${rule.message}`);
    }
    for (const [key, prop] of Object.entries(s.properties ?? {})) {
      if (key === 'metadata' && path !== '') {
        say('only the root may declare metadata');
      }
      visit(prop, path ? `${path}.${key}` : key, true);
    }
    if (s.items) visit(s.items, `${path}[]`, false);
    if (s.additionalProperties) visit(s.additionalProperties, `${path}{}`, false);
  }

  visit(root, '', false);
  const metadata = root.properties?.metadata;
  if (metadata?.properties) problems.push('metadata: the API server accepts only name/generateName constraints here');
  // kube-apiserver: "metadata: Forbidden: must not specify anything other than name and generateName".
  const extra = Object.keys(metadata ?? {}).filter((k) => k !== 'type' && k !== 'properties');
  if (extra.length > 0) problems.push(`metadata: the API server rejects ${extra.join(', ')} here; only type: object`);
  return problems;
}
