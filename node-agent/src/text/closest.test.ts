import { closest, editDistance } from './closest.js';

test('edit distance counts insertions, deletions and substitutions', () => {
  expect(editDistance('replica-id', 'replica-id')).toBe(0);
  expect(editDistance('replicaid', 'replica-id')).toBe(1);
  expect(editDistance('fabirc', 'fabric')).toBe(2);
  expect(editDistance('', 'abc')).toBe(3);
});

test('suggests the nearest candidate within two edits, nothing further away', () => {
  expect(closest('fabirc', ['fabric', 'config', 'bootstrap'])).toBe('fabric');
  expect(closest('http-prot', ['http-port', 'http-host'])).toBe('http-port');
  expect(closest('zzzzzz', ['fabric', 'config'])).toBeUndefined();
});
