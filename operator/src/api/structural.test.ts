import type { JSONSchema } from './json-schema.js';
import { structuralProblems } from './structural.js';

function withSpec(spec: Record<string, JSONSchema>): JSONSchema {
  return {
    type: 'object',
    properties: { spec: { type: 'object', title: 'S', description: 'spec', properties: spec } },
  };
}

describe('structuralProblems', () => {
  it('accepts a sound schema', () => {
    expect(structuralProblems(withSpec({ a: { type: 'string', description: 'a' } }))).toEqual([]);
  });

  it('allows nothing but the type on the root metadata (kube-apiserver rejects even a description)', () => {
    const root = withSpec({ a: { type: 'string', description: 'a' } });
    root.properties!.metadata = { type: 'object' };
    expect(structuralProblems(root)).toEqual([]);
    root.properties!.metadata = { type: 'object', description: 'Standard object metadata.' };
    expect(structuralProblems(root)).toEqual(['metadata: the API server rejects description here; only type: object']);
  });

  it.each<[string, Record<string, JSONSchema>, RegExp]>([
    ['a node without type', { a: { description: 'a' } }, /spec\.a: no type/],
    ['a property without description', { a: { type: 'string' } }, /spec\.a: no description/],
    [
      'a default outside the enum',
      { a: { type: 'string', description: 'a', enum: ['x'], default: 'y' } },
      /invalid default/,
    ],
    ['a default of the wrong type', { a: { type: 'integer', description: 'a', default: 'one' } }, /invalid default/],
    [
      'a default below the minimum',
      { a: { type: 'integer', description: 'a', minimum: 1, default: 0 } },
      /invalid default/,
    ],
    ['an untitled object', { a: { type: 'object', description: 'a', properties: {} } }, /without a title/],
    ['an unbounded array', { a: { type: 'array', description: 'a', items: { type: 'string' } } }, /maxItems/],
    [
      'an unbounded map',
      { a: { type: 'object', description: 'a', additionalProperties: { type: 'string' } } },
      /maxProperties/,
    ],
    [
      'a list-map key that is not required',
      {
        a: {
          type: 'array',
          description: 'a',
          maxItems: 1,
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['k'],
          items: { type: 'object', title: 'I', properties: { k: { type: 'string', description: 'k' } } },
        },
      },
      /list-map key "k"/,
    ],
    [
      'a CEL message that names no field',
      {
        a: {
          type: 'integer',
          description: 'a',
          'x-kubernetes-validations': [{ rule: 'self > 0', message: 'must be positive' }],
        },
      },
      /does not name its field/,
    ],
    [
      'int-or-string with a type',
      { a: { type: 'string', description: 'a', 'x-kubernetes-int-or-string': true } },
      /int-or-string must not set type/,
    ],
    [
      'required naming no property',
      { a: { type: 'object', title: 'A', description: 'a', required: ['b'], properties: {} } },
      /required "b"/,
    ],
  ])('reports %s', (_what, spec, problem) => {
    expect(structuralProblems(withSpec(spec)).join('\n')).toMatch(problem);
  });

  it('reports two different objects with the same title', () => {
    const a: JSONSchema = { type: 'object', title: 'T', description: 'a', properties: {} };
    const b: JSONSchema = { type: 'object', title: 'T', description: 'b', properties: {} };
    expect(structuralProblems(withSpec({ a, b })).join('\n')).toMatch(/title T is used by another/);
    expect(structuralProblems(withSpec({ a, b: a }))).toEqual([]);
  });

  it('validates a default after defaulting inside it, as the API server does', () => {
    const spec: Record<string, JSONSchema> = {
      o: {
        type: 'object',
        title: 'O',
        description: 'o',
        default: {},
        properties: { n: { type: 'integer', description: 'n', minimum: 1, default: 0 } },
      },
    };
    expect(structuralProblems(withSpec(spec)).join('\n')).toMatch(/spec\.o: invalid default: default\.n: 0 is below/);
  });
});
