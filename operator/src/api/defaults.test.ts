import { applyDefaults } from './defaults.js';
import type { JSONSchema } from './json-schema.js';
import { newMuCluster } from './new-cluster.js';
import { muClusterSchema } from './schema.js';
import { schemaViolations } from './validate.js';

describe('applyDefaults', () => {
  const schema: JSONSchema = {
    type: 'object',
    properties: {
      a: { type: 'integer', default: 1 },
      o: { type: 'object', default: {}, properties: { b: { type: 'string', default: 'x' }, c: { type: 'string' } } },
      p: { type: 'object', properties: { d: { type: 'boolean', default: true } } },
      list: { type: 'array', items: { type: 'object', properties: { e: { type: 'integer', default: 5 } } } },
    },
  };

  it('fills missing fields, then defaults inside a defaulted parent', () => {
    expect(applyDefaults(schema, {})).toEqual({ a: 1, o: { b: 'x' } });
  });

  it('leaves a parent without default absent, but defaults inside it when present', () => {
    expect(applyDefaults(schema, { p: {} })).toMatchObject({ p: { d: true } });
    expect(applyDefaults(schema, {})).not.toHaveProperty('p');
  });

  it('keeps what the user set, including falsy values, and defaults array items', () => {
    expect(applyDefaults(schema, { a: 0, o: { b: '' }, list: [{}, { e: 0 }] })).toEqual({
      a: 0,
      o: { b: '' },
      list: [{ e: 5 }, { e: 0 }],
    });
  });

  it('does not mutate its input or share default objects between results', () => {
    const input = {};
    const one = applyDefaults(schema, input) as { o: { b: string } };
    const two = applyDefaults(schema, input) as { o: { b: string } };
    one.o.b = 'changed';
    expect(input).toEqual({});
    expect(two.o.b).toBe('x');
    expect(schema.properties!.o!.default as object).toEqual({});
  });
});

describe('newMuCluster', () => {
  it('turns an empty spec into a complete, valid one', () => {
    const cluster = newMuCluster({ name: 'demo', uid: 'u' });
    expect(cluster.spec).toMatchObject({
      replicas: 3,
      fabric: 'verbs',
      respPort: 6379,
      rdma: { resourceName: 'rdma/hca_shared_devices_a', gidIndex: 'auto', linkLayer: 'auto', port: 1 },
      engine: { failureThreshold: 2, recoveryThreshold: 6, scoreMax: 15, batching: { maxBatchRequests: 64 } },
      scheduling: { antiAffinity: 'required' },
      podDisruptionBudget: { enabled: true },
      updateStrategy: { type: 'RollingUpdate' },
      monitoring: { podMonitor: { enabled: false, interval: '15s' } },
    });
    expect(cluster.metadata.namespace).toBe('default');
    expect(schemaViolations(muClusterSchema, cluster, '')).toEqual([]);
  });

  it("keeps the user's nested choices and fills their siblings", () => {
    const cluster = newMuCluster({ name: 'demo' }, { fabric: 'soft', engine: { batching: { maxBatchBytes: 4096 } } });
    expect(cluster.spec.fabric).toBe('soft');
    expect(cluster.spec.engine.batching).toEqual({
      maxBatchRequests: 64,
      maxBatchBytes: 4096,
      maxOutstandingProposals: 16,
    });
  });
});
