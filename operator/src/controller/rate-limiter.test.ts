import { ExponentialBackoff, MaxOf, TokenBucket } from './rate-limiter.js';
import { FakeClock } from './testing/fake-clock.js';

describe('rate limiters', () => {
  it('ExponentialBackoff doubles from base to the cap, per key', () => {
    const b = new ExponentialBackoff<string>(5, 40);
    expect([1, 2, 3, 4, 5].map(() => b.when('a'))).toEqual([5, 10, 20, 40, 40]);
    expect(b.when('b')).toBe(5);
    b.forget('a');
    expect(b.when('a')).toBe(5);
  });

  it('ExponentialBackoff stays at the cap after very many failures', () => {
    const b = new ExponentialBackoff<string>(5, 300_000);
    let last = 0;
    for (let i = 0; i < 2000; i++) last = b.when('a');
    expect(last).toBe(300_000);
  });

  it('ExponentialBackoff rejects a nonsensical configuration', () => {
    expect(() => new ExponentialBackoff(0, 10)).toThrow(RangeError);
    expect(() => new ExponentialBackoff(10, 5)).toThrow(RangeError);
  });

  it('TokenBucket lets a burst through, then spaces callers at the rate, refilling with time', () => {
    const clock = new FakeClock();
    const t = new TokenBucket<string>(clock, 10, 2);
    expect([t.when('a'), t.when('b'), t.when('c'), t.when('d')]).toEqual([0, 0, 100, 200]);
    clock.advance(1000); // 10 tokens earned, capped at the burst of 2, minus the 2 owed
    expect(t.when('e')).toBe(0);
  });

  it('MaxOf takes the longest delay and forgets in all', () => {
    const clock = new FakeClock();
    const m = new MaxOf<string>(new ExponentialBackoff<string>(5, 1000), new TokenBucket<string>(clock, 1, 1));
    expect(m.when('a')).toBe(5);
    expect(m.when('a')).toBe(1000); // bucket empty: 1 s wait beats the 10 ms backoff
    expect(m.retries('a')).toBe(2);
    m.forget('a');
    expect(m.retries('a')).toBe(0);
  });
});
