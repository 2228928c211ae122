// Time as a dependency (habit 17): the work queue and its rate limiters read time and schedule through a Clock,
// so tests drive them with a fake one instead of waiting.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds; only differences matter. */
  now(): number;
  /** Runs fn once after delayMs (≥ 0). */
  schedule(fn: () => void, delayMs: number): TimerHandle;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  schedule(fn, delayMs) {
    const timer = setTimeout(fn, Math.max(0, delayMs));
    // A pending retry must not keep the process alive on shutdown.
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
