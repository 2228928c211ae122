import { ExponentialBackoff } from './rate-limiter.js';
import { FakeClock, settle } from './testing/fake-clock.js';
import { WorkQueue } from './workqueue.js';

function setup(baseMs = 10, maxMs = 80) {
  const clock = new FakeClock();
  const queue = new WorkQueue<string>({ clock, rateLimiter: new ExponentialBackoff<string>(baseMs, maxMs) });
  return { clock, queue };
}

/** Takes every ready key without blocking. */
async function drain(queue: WorkQueue<string>): Promise<string[]> {
  const keys: string[] = [];
  while (queue.length > 0) keys.push((await queue.get())!);
  return keys;
}

describe('WorkQueue', () => {
  it('hands out keys in the order added, once each however often added', async () => {
    const { queue } = setup();
    for (const k of ['a', 'b', 'a', 'c', 'b', 'a']) queue.add(k);
    expect(queue.length).toBe(3);
    expect(await drain(queue)).toEqual(['a', 'b', 'c']);
  });

  it('never hands out a key that is being processed; re-adds during processing run once after done()', async () => {
    const { queue } = setup();
    queue.add('a');
    const held = await queue.get();
    expect(held).toBe('a');
    queue.add('a');
    queue.add('a');
    expect(queue.length).toBe(0); // not queued alongside the one in process
    queue.add('b');
    expect(await queue.get()).toBe('b');
    queue.done('b');
    queue.done('a');
    expect(queue.length).toBe(1);
    expect(await queue.get()).toBe('a');
    queue.done('a');
    expect(queue.length).toBe(0);
  });

  it('does not re-queue a key on done() when nobody added it meanwhile', async () => {
    const { queue } = setup();
    queue.add('a');
    queue.done((await queue.get())!);
    expect(queue.length).toBe(0);
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const { queue } = setup();
    let got: string | undefined;
    void queue.get().then((k) => (got = k));
    await settle();
    expect(got).toBeUndefined();
    queue.add('a');
    await settle();
    expect(got).toBe('a');
  });

  it('serves several waiting workers different keys', async () => {
    const { queue } = setup();
    const results = Promise.all([queue.get(), queue.get()]);
    queue.add('a');
    queue.add('a');
    queue.add('b');
    expect(await results).toEqual(['a', 'b']);
  });

  it('adds after a delay on the injected clock, keeping the earlier of two delays', async () => {
    const { clock, queue } = setup();
    queue.addAfter('a', 100);
    queue.addAfter('a', 50);
    queue.addAfter('a', 500);
    expect(queue.delayedCount).toBe(1);
    clock.advance(49);
    expect(queue.length).toBe(0);
    clock.advance(1);
    expect(await drain(queue)).toEqual(['a']);
    clock.advance(1000);
    expect(queue.length).toBe(0); // the later delays were dropped, not queued as extra runs
    expect(clock.pendingTimers).toBe(0);
  });

  it('treats a non-positive delay as an immediate add', () => {
    const { queue } = setup();
    queue.addAfter('a', 0);
    expect(queue.length).toBe(1);
  });

  it('a delayed key that comes due while queued is not queued twice', async () => {
    const { clock, queue } = setup();
    queue.addAfter('a', 10);
    queue.add('a');
    clock.advance(10);
    expect(await drain(queue)).toEqual(['a']);
  });

  it('backs off exponentially per key up to the cap, and starts over after forget()', async () => {
    const { clock, queue } = setup(10, 80);
    const dueAfter: number[] = [];
    for (let i = 0; i < 6; i++) {
      const start = clock.now();
      queue.addRateLimited('a');
      // Bounded wait: the loop must end even if the key never comes due.
      for (let waited = 0; queue.length === 0 && waited < 1000; waited++) clock.advance(1);
      dueAfter.push(clock.now() - start);
      queue.done((await queue.get())!); // a worker takes it and fails again
    }
    expect(dueAfter).toEqual([10, 20, 40, 80, 80, 80]);
    expect(queue.retries('a')).toBe(6);
    queue.forget('a');
    expect(queue.retries('a')).toBe(0);
  });

  it('keeps separate backoff per key', () => {
    const { queue } = setup();
    queue.addRateLimited('a');
    queue.addRateLimited('a');
    queue.addRateLimited('b');
    expect([queue.retries('a'), queue.retries('b')]).toEqual([2, 1]);
  });

  it('on shutdown, releases waiting workers with undefined, drops delays and ignores adds', async () => {
    const { clock, queue } = setup();
    const waiting = queue.get();
    queue.addAfter('late', 10);
    queue.shutDown();
    expect(await waiting).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
    queue.add('a');
    expect(queue.length).toBe(0);
    expect(await queue.get()).toBeUndefined();
    expect(queue.isShuttingDown).toBe(true);
  });

  it('refuses done() for a key it did not hand out', () => {
    const { queue } = setup();
    expect(() => queue.done('a')).toThrow(/not being processed/);
  });
});
