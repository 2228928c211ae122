import { faultTolerance, majority } from './quorum.js';

describe('quorum arithmetic', () => {
  it.each([
    [1, 1, 0],
    [2, 2, 0],
    [3, 2, 1],
    [4, 3, 1],
    [5, 3, 2],
    [7, 4, 3],
    [9, 5, 4],
  ])('%i replicas: majority %i, tolerates %i failures', (n, m, f) => {
    expect(majority(n)).toBe(m);
    expect(faultTolerance(n)).toBe(f);
    expect(faultTolerance(n)).toBe(Math.floor((n - 1) / 2));
  });

  it('rejects non-positive or fractional sizes', () => {
    expect(() => majority(0)).toThrow(RangeError);
    expect(() => majority(2.5)).toThrow(RangeError);
  });
});
