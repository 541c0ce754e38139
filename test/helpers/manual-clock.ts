/**
 * A Clock whose time moves only when a test says so: timers fire in due order inside advance(), so
 * timeouts of minutes are tested in microseconds and without margins.
 */
import type { Clock, TimerHandle } from '../../src/core/clock.js';

interface ManualTimer extends TimerHandle {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: ManualTimer = {
      at: this.time + Math.max(0, ms),
      seq: this.seq++,
      fn,
      cancelled: false,
      unref: () => timer,
    };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) (handle as ManualTimer).cancelled = true;
  }

  /** Timers scheduled and neither fired nor cancelled. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way (also ones scheduled by
   * those timers), each at its own time. Between timers the microtask and I/O queues run once, so that
   * promise chains and socket writes a timer started can go on before the next one fires.
   */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const due = this.nextDue(end);
      if (!due) break;
      this.time = due.at;
      due.cancelled = true;
      due.fn();
    }
    this.time = end;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  private nextDue(end: number): ManualTimer | undefined {
    this.timers = this.timers.filter((t) => !t.cancelled);
    let next: ManualTimer | undefined;
    for (const t of this.timers) {
      if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
    }
    return next;
  }
}
