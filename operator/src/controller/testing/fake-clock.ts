// A Clock for tests: time moves only when advance() is called, firing due timers in order. Test-only.
import type { Clock, TimerHandle } from '../clock.js';

interface Timer {
  dueAt: number;
  seq: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private time = 0;
  private seq = 0;
  private timers: Timer[] = [];

  now(): number {
    return this.time;
  }

  schedule(fn: () => void, delayMs: number): TimerHandle {
    const timer: Timer = { dueAt: this.time + Math.max(0, delayMs), seq: this.seq++, fn };
    this.timers.push(timer);
    return { cancel: () => void (this.timers = this.timers.filter((t) => t !== timer)) };
  }

  /** Moves time forward by ms, running each timer that falls due at its own time (ties in scheduling order). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const next = [...this.timers].sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq)[0];
      if (!next || next.dueAt > end) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.time = next.dueAt;
      next.fn();
    }
    this.time = end;
  }

  get pendingTimers(): number {
    return this.timers.length;
  }
}

/** Lets promise callbacks (resolved getters, awaited reconciles) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
