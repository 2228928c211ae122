import { containsDesired } from './apply.js';

describe('containsDesired', () => {
  it('accepts a live object that has every desired field, plus fields the server added', () => {
    const desired = { metadata: { name: 'a', labels: { x: '1' } }, spec: { ports: [{ port: 6379, name: 'resp' }] } };
    const live = {
      metadata: { name: 'a', labels: { x: '1' }, uid: 'u', resourceVersion: '7' },
      spec: { clusterIP: '10.96.0.9', ports: [{ port: 6379, name: 'resp', protocol: 'TCP', targetPort: 6379 }] },
    };
    expect(containsDesired(desired, live)).toBe(true);
  });

  it('rejects a changed value, a missing field, or a list of another length', () => {
    const desired = { data: { 'cluster.json': '{"members":[]}' }, list: [1, 2] };
    expect(containsDesired(desired, { data: { 'cluster.json': '{}' }, list: [1, 2] })).toBe(false);
    expect(containsDesired(desired, { data: {}, list: [1, 2] })).toBe(false);
    expect(containsDesired(desired, { data: { 'cluster.json': '{"members":[]}' }, list: [1, 2, 3] })).toBe(false);
  });

  it('compares quantities as written (1 and "1")', () => {
    expect(containsDesired({ maxUnavailable: 1 }, { maxUnavailable: 1 })).toBe(true);
    expect(containsDesired({ limit: '1' }, { limit: 1 })).toBe(true);
    expect(containsDesired({ limit: '1' }, { limit: { value: 1 } })).toBe(false);
  });
});
