import { ExponentialBackoff } from './rate-limiter.js';
import { FakeClock, settle } from './testing/fake-clock.js';
import { runWorker } from './worker.js';
import { WorkQueue } from './workqueue.js';

function setup() {
  const clock = new FakeClock();
  const queue = new WorkQueue<string>({ clock, rateLimiter: new ExponentialBackoff<string>(10, 1000) });
  return { clock, queue };
}

describe('runWorker', () => {
  it('retries a failing key with backoff and forgets the backoff once it succeeds', async () => {
    const { clock, queue } = setup();
    const calls: number[] = [];
    let failuresLeft = 2;
    const errors: Array<[string, boolean]> = [];
    const done = runWorker(queue, {
      reconcile: async () => {
        calls.push(clock.now());
        if (failuresLeft-- > 0) throw new Error('API server said 500');
      },
      onError: (key, _e, willRetry) => errors.push([key, willRetry]),
    });
    queue.add('ns/a');
    await settle();
    clock.advance(10);
    await settle();
    clock.advance(20);
    await settle();
    expect(calls).toEqual([0, 10, 30]);
    expect(errors).toEqual([
      ['ns/a', true],
      ['ns/a', true],
    ]);
    expect(queue.retries('ns/a')).toBe(0);
    queue.shutDown();
    await done;
  });

  it('does not retry what is not retryable', async () => {
    const { clock, queue } = setup();
    let calls = 0;
    const done = runWorker(queue, {
      reconcile: async () => {
        calls++;
        throw new Error('invalid spec');
      },
      isRetryable: () => false,
    });
    queue.add('ns/a');
    await settle();
    clock.advance(10_000);
    await settle();
    expect(calls).toBe(1);
    expect(queue.delayedCount).toBe(0);
    queue.shutDown();
    await done;
  });

  it('comes back after requeueAfterMs (periodic polling)', async () => {
    const { clock, queue } = setup();
    const calls: number[] = [];
    const done = runWorker(queue, {
      reconcile: async () => {
        calls.push(clock.now());
        return { requeueAfterMs: 5000 };
      },
    });
    queue.add('ns/a');
    await settle();
    clock.advance(5000);
    await settle();
    clock.advance(5000);
    await settle();
    expect(calls).toEqual([0, 5000, 10000]);
    queue.shutDown();
    await done;
  });

  it('with two workers, never reconciles one key concurrently, and reruns it after an add during processing', async () => {
    const { queue } = setup();
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const gates: Array<() => void> = [];
    const reconcile = async () => {
      active++;
      runs++;
      maxActive = Math.max(maxActive, active);
      await new Promise<void>((resolve) => gates.push(resolve));
      active--;
    };
    const workers = [runWorker(queue, { reconcile }), runWorker(queue, { reconcile })];
    queue.add('ns/a');
    await settle();
    queue.add('ns/a'); // an event arrives while it is being reconciled
    await settle();
    expect(runs).toBe(1); // the second worker did not take it
    gates.shift()!();
    await settle();
    expect(runs).toBe(2); // processed again, after
    gates.shift()!();
    await settle();
    expect(maxActive).toBe(1);
    queue.shutDown();
    await Promise.all(workers);
  });
});
