import type { JSONSchema } from './json-schema.js';
import { muClusterSchema } from './schema.js';
import { schemaViolations } from './validate.js';

describe('schemaViolations', () => {
  const spec = muClusterSchema.properties!.spec!;

  it.each<[string, unknown, string]>([
    ['a string for an integer', { replicas: 'three' }, 'spec.replicas: must be an integer'],
    ['a value above the maximum', { replicas: 11 }, 'spec.replicas: 11 is above the maximum 9'],
    ['a value outside the enum', { fabric: 'tcp' }, 'spec.fabric: "tcp" is not one of verbs, soft'],
    ['an unknown field', { replica: 3 }, 'spec.replica: unknown field'],
    [
      'a bad quantity',
      { resources: { limits: { memory: 'lots' } } },
      'spec.resources.limits.memory: "lots" does not match',
    ],
    ['a privileged port', { respPort: 80 }, 'spec.respPort: 80 is below the minimum 1024'],
    ['a missing required item field', { imagePullSecrets: [{}] }, 'spec.imagePullSecrets[0].name: required'],
  ])('reports %s with the field path', (_what, value, message) => {
    expect(schemaViolations(spec, value, 'spec').join('\n')).toContain(message);
  });

  it('accepts int-or-string both ways and leaves opaque objects alone', () => {
    expect(schemaViolations(spec, { rdma: { gidIndex: 3 } }, 'spec')).toEqual([]);
    expect(schemaViolations(spec, { rdma: { gidIndex: 'auto' } }, 'spec')).toEqual([]);
    expect(schemaViolations(spec, { scheduling: { affinity: { anything: 1 } } }, 'spec')).toEqual([]);
  });

  it('checks date-time strings', () => {
    const s: JSONSchema = { type: 'string', format: 'date-time' };
    expect(schemaViolations(s, 'yesterday', 't')).toEqual(['t: not an RFC 3339 date-time']);
  });
});
