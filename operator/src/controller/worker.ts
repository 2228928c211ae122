// Drives a WorkQueue: takes a key, reconciles it, and files the outcome — success forgets the key's backoff (and
// may ask to come back later, e.g. to poll agents again), a retryable failure retries with backoff, anything else
// is reported and dropped until the next event brings the key back.
import type { WorkQueue } from './workqueue.js';

export interface ReconcileResult {
  /** Process the key again after this long even without events (periodic status polling). */
  requeueAfterMs?: number;
}

export interface WorkerHooks<K extends string> {
  reconcile(key: K): Promise<ReconcileResult | void>;
  /** Default: every error is retryable. */
  isRetryable?(error: unknown): boolean;
  /** Told about every failure, with whether it will be retried (for logs, metrics, ReconcileError events). */
  onError?(key: K, error: unknown, willRetry: boolean): void;
}

/** Processes keys until the queue shuts down; resolves then. Run several for concurrency: keys never overlap. */
export async function runWorker<K extends string>(queue: WorkQueue<K>, hooks: WorkerHooks<K>): Promise<void> {
  for (;;) {
    const key = await queue.get();
    if (key === undefined) return;
    try {
      const result = await hooks.reconcile(key);
      queue.forget(key);
      if (result?.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
    } catch (error) {
      const retry = hooks.isRetryable?.(error) ?? true;
      hooks.onError?.(key, error, retry);
      if (retry) queue.addRateLimited(key);
      else queue.forget(key);
    } finally {
      queue.done(key);
    }
  }
}
