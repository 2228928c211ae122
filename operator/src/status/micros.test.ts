import { isoToMicros, microsToIso } from './micros.js';

describe('microsecond timestamps', () => {
  it('formats with six fractional digits in UTC', () => {
    expect(microsToIso(1736000000123456)).toBe('2025-01-04T14:13:20.123456Z');
    expect(microsToIso(1736000000000001)).toBe('2025-01-04T14:13:20.000001Z');
  });

  it('round-trips and parses shorter fractions and offsets', () => {
    expect(isoToMicros(microsToIso(1736000000123456))).toBe(1736000000123456);
    expect(isoToMicros('2025-01-04T14:13:20.5Z')).toBe(1736000000500000);
    expect(isoToMicros('2025-01-04T15:13:20+01:00')).toBe(1736000000000000);
  });

  it('sorts as strings in time order (status history relies on a fixed width)', () => {
    const a = microsToIso(1736000000000999);
    const b = microsToIso(1736000000001000);
    expect(a < b).toBe(true);
  });

  it('rejects garbage', () => {
    expect(() => microsToIso(-1)).toThrow(RangeError);
    expect(() => isoToMicros('soon')).toThrow(RangeError);
  });
});
