// A keyed work queue for level-based reconciliation (keys are "namespace/name").
//
// Guarantees:
// - De-duplication: a key is queued at most once, however often it is added before a worker takes it.
// - No concurrent processing of a key: a key added while a worker holds it is queued again when the worker calls
//   done(), and processed after, never alongside.
// - FIFO among ready keys. Delayed adds (addAfter, addRateLimited) wait on the injected clock; of two delays for
//   the same key the earlier wins.
// Invariants: queue ⊆ dirty; queue ∩ processing = ∅; a key in dirty ∩ processing is re-queued by done().
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { defaultRateLimiter, type RateLimiter } from './rate-limiter.js';

export interface WorkQueueOptions<K extends string> {
  clock?: Clock;
  rateLimiter?: RateLimiter<K>;
}

export class WorkQueue<K extends string = string> {
  private readonly clock: Clock;
  private readonly limiter: RateLimiter<K>;
  /** Ready keys in order. */
  private readonly queue: K[] = [];
  /** Keys that need processing: queued, or added again while being processed. */
  private readonly dirty = new Set<K>();
  /** Keys a worker holds between get() and done(). */
  private readonly processing = new Set<K>();
  /** Keys waiting for a delay to pass, with their due time. */
  private readonly waiting = new Map<K, { dueAt: number; timer: TimerHandle }>();
  /** Workers blocked in get(). */
  private readonly getters: Array<(key: K | undefined) => void> = [];
  private shuttingDown = false;

  constructor(options: WorkQueueOptions<K> = {}) {
    this.clock = options.clock ?? systemClock;
    this.limiter = options.rateLimiter ?? defaultRateLimiter<K>(this.clock);
  }

  /** Marks key as needing processing now. No-op after shutDown(). */
  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // done() re-queues it
    this.queue.push(key);
    this.handOut();
  }

  /** Adds key after delayMs; an earlier pending delay for the same key is kept. */
  addAfter(key: K, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const dueAt = this.clock.now() + delayMs;
    const pending = this.waiting.get(key);
    if (pending && pending.dueAt <= dueAt) return;
    pending?.timer.cancel();
    const timer = this.clock.schedule(() => {
      this.waiting.delete(key);
      this.add(key);
    }, delayMs);
    this.waiting.set(key, { dueAt, timer });
  }

  /** Retries key after its backoff (one more failure of it). */
  addRateLimited(key: K): void {
    this.addAfter(key, this.limiter.when(key));
  }

  /** The key was processed successfully: its backoff starts over. Does not remove it from the queue. */
  forget(key: K): void {
    this.limiter.forget(key);
  }

  retries(key: K): number {
    return this.limiter.retries(key);
  }

  /** Next key to process, waiting for one if needed; undefined once the queue is shut down. Call done(key) after. */
  get(): Promise<K | undefined> {
    const key = this.take();
    if (key !== undefined) return Promise.resolve(key);
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** The worker is finished with key; if it was added meanwhile, it is queued again. */
  done(key: K): void {
    if (!this.processing.delete(key)) throw new Error(`done(${String(key)}) for a key that is not being processed`);
    if (this.dirty.has(key) && !this.shuttingDown) {
      this.queue.push(key);
      this.handOut();
    }
  }

  /** Stops handing out keys: waiting workers get undefined, pending delays are dropped. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.waiting.values()) timer.cancel();
    this.waiting.clear();
    for (const resolve of this.getters.splice(0)) resolve(undefined);
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Ready keys (not counting those in process or waiting on a delay). */
  get length(): number {
    return this.queue.length;
  }

  /** Keys waiting on a delay. */
  get delayedCount(): number {
    return this.waiting.size;
  }

  private take(): K | undefined {
    if (this.shuttingDown) return undefined;
    const key = this.queue.shift();
    if (key === undefined) return undefined;
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }

  private handOut(): void {
    while (this.getters.length > 0 && this.queue.length > 0) {
      const key = this.take()!;
      this.getters.shift()!(key);
    }
  }
}
