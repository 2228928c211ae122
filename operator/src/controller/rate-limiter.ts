// How long a key waits before its next retry. Per-key exponential backoff keeps a failing cluster from spinning;
// an overall token bucket keeps many failing clusters from flooding the API server. The queue takes the larger.
import type { Clock } from './clock.js';

export interface RateLimiter<K> {
  /** Delay before retrying key now; counts as one more failure of it. */
  when(key: K): number;
  /** The key succeeded: its backoff starts over. */
  forget(key: K): void;
  /** Failures of key since it was last forgotten. */
  retries(key: K): number;
}

/** base·2^failures, capped at max: 5 ms, 10 ms, 20 ms ... 5 min with the defaults. */
export class ExponentialBackoff<K> implements RateLimiter<K> {
  private readonly failures = new Map<K, number>();

  constructor(
    private readonly baseMs = 5,
    private readonly maxMs = 300_000,
  ) {
    if (!(baseMs > 0 && maxMs >= baseMs)) throw new RangeError(`need 0 < baseMs <= maxMs, got ${baseMs}, ${maxMs}`);
  }

  when(key: K): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // 2^n overflows to Infinity long after the cap; min() handles it.
    return Math.min(this.baseMs * 2 ** n, this.maxMs);
  }

  forget(key: K): void {
    this.failures.delete(key);
  }

  retries(key: K): number {
    return this.failures.get(key) ?? 0;
  }
}

/** Overall limit: `burst` retries at once, then `perSecond` a second, shared by every key. */
export class TokenBucket<K> implements RateLimiter<K> {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: Clock,
    private readonly perSecond = 10,
    private readonly burst = 100,
  ) {
    if (!(perSecond > 0 && burst >= 1)) throw new RangeError(`need perSecond > 0 and burst >= 1`);
    this.tokens = burst;
    this.last = clock.now();
  }

  when(_key: K): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    // Take a token even when in debt: each caller reserves the next free slot.
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.perSecond) * 1000;
  }

  forget(_key: K): void {}

  retries(_key: K): number {
    return 0;
  }
}

/** The longest delay any of the limiters asks for. */
export class MaxOf<K> implements RateLimiter<K> {
  private readonly limiters: readonly RateLimiter<K>[];

  constructor(...limiters: RateLimiter<K>[]) {
    this.limiters = limiters;
  }

  when(key: K): number {
    return Math.max(0, ...this.limiters.map((l) => l.when(key)));
  }

  forget(key: K): void {
    for (const l of this.limiters) l.forget(key);
  }

  retries(key: K): number {
    return Math.max(0, ...this.limiters.map((l) => l.retries(key)));
  }
}

export function defaultRateLimiter<K>(clock: Clock): RateLimiter<K> {
  return new MaxOf<K>(new ExponentialBackoff<K>(5, 300_000), new TokenBucket<K>(clock, 10, 100));
}
