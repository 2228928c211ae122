import { newMuCluster } from '../api/new-cluster.js';
import { ownerReference, replicaSelectorString } from './metadata.js';
import { stableJson } from './stable-json.js';

describe('metadata helpers', () => {
  it('refuses to build an owner reference without a uid', () => {
    expect(() => ownerReference(newMuCluster({ name: 'demo' }))).toThrow(/metadata\.uid/);
  });

  it('renders the replica selector as a label selector string', () => {
    expect(replicaSelectorString(newMuCluster({ name: 'demo', uid: 'u' }))).toBe(
      'mu.rdma.dev/cluster=demo,app.kubernetes.io/component=replica',
    );
  });

  it('serializes with sorted keys at every depth, arrays kept in order', () => {
    expect(stableJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
  });
});
