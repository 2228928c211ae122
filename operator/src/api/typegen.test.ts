import type { JSONSchema } from './json-schema.js';
import { GENERATED_HEADER, generateTypes } from './typegen.js';

describe('generateTypes', () => {
  it('emits titled objects as interfaces, parent first, with optionality from required and default', () => {
    const child: JSONSchema = { type: 'object', title: 'Child', properties: { n: { type: 'integer' } } };
    const root: JSONSchema = {
      type: 'object',
      title: 'Root',
      description: 'The root.',
      required: ['must'],
      properties: {
        must: { type: 'string' },
        defaulted: { type: 'boolean', default: false },
        maybe: { type: 'string', enum: ['a', 'b'] },
        child,
        again: child,
        list: { type: 'array', items: { 'x-kubernetes-int-or-string': true } },
        map: { type: 'object', additionalProperties: { type: 'integer' } },
        affinity: { type: 'object', title: 'V1Affinity', 'x-kubernetes-preserve-unknown-fields': true },
      },
    };
    expect(generateTypes([root])).toBe(
      `${GENERATED_HEADER}
import type { V1Affinity } from '@kubernetes/client-node';

/** The root. */
export interface Root {
  must: string;
  /** @default false */
  defaulted: boolean;
  maybe?: 'a' | 'b';
  child?: Child;
  again?: Child;
  list?: Array<number | string>;
  map?: Record<string, number>;
  affinity?: V1Affinity;
}

export interface Child {
  n?: number;
}
`,
    );
  });

  it('refuses an untitled object with properties and two objects sharing a title', () => {
    expect(() =>
      generateTypes([{ type: 'object', title: 'R', properties: { o: { type: 'object', properties: {} } } }]),
    ).toThrow(/R\.o: object with properties needs a title/);
    const a: JSONSchema = { type: 'object', title: 'T', properties: {} };
    const b: JSONSchema = { type: 'object', title: 'T', properties: {} };
    expect(() => generateTypes([{ type: 'object', title: 'R', properties: { a, b } }])).toThrow(
      /two different schema objects/,
    );
  });

  it('keeps `*/` in a description from closing the comment', () => {
    const out = generateTypes([
      { type: 'object', title: 'R', properties: { x: { type: 'string', description: 'a */ b' } } },
    ]);
    expect(out).toContain('a *\\/ b');
  });
});
