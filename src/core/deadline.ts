/**
 * The point in time by which a call must be answered: an immutable value over an absolute time on a
 * Clock. Every wait that serves a call (dial, pool, unary call, backend call) takes one instead of a
 * number of milliseconds, so a deadline can be carried from hop to hop unchanged and each wait is cut to
 * what is left. A plain value, not an AbortSignal: creating one costs a small object, not an
 * AbortController with an event target and a timer (bench/deadline.ts); `signal()` builds one on demand.
 */
import { MAX_TIMER_MS, systemClock, type Clock, type TimerHandle } from './clock.js';

export class Deadline {
  private constructor(
    /** Absolute time in ms on `clock` (ms since the epoch for the system clock). */
    readonly at: number,
    readonly clock: Clock,
  ) {}

  /** The deadline `ms` from now. */
  static after(ms: number, clock: Clock = systemClock): Deadline {
    return new Deadline(clock.now() + ms, clock);
  }

  /**
   * No deadline: never expires, `remainingMs()` is Infinity; `within(ms)` still gives a finite one. For a
   * call whose caller set none (a peer without grpc-timeout), so each hop's own timeout bounds it.
   */
  static unbounded(clock: Clock = systemClock): Deadline {
    return new Deadline(Infinity, clock);
  }

  /** The deadline at an absolute time of `clock`. */
  static at(time: number, clock: Clock = systemClock): Deadline {
    return new Deadline(time, clock);
  }

  /** Milliseconds left, 0 once passed. */
  remainingMs(): number {
    return Math.max(0, this.at - this.clock.now());
  }

  get expired(): boolean {
    return this.clock.now() >= this.at;
  }

  /** The earlier of this deadline and `other` (this one when `other` is undefined). */
  earlier(other: Deadline | undefined): Deadline {
    return other !== undefined && other.at < this.at ? other : this;
  }

  /** This deadline, or `ms` from now if that is earlier (e.g. a connect timeout within a call's deadline). */
  within(ms: number): Deadline {
    const at = this.clock.now() + ms;
    return at < this.at ? new Deadline(at, this.clock) : this;
  }

  /**
   * Calls `fn` once the deadline has passed (at once, asynchronously, if it already has); cancel with
   * cancelExpire(). A deadline beyond the longest timer (about 24.8 days) schedules nothing: no call of
   * a running process waits that long.
   */
  onExpire(fn: () => void): TimerHandle | undefined {
    const left = this.at - this.clock.now();
    if (left > MAX_TIMER_MS) return undefined;
    return this.clock.setTimeout(fn, Math.max(0, left));
  }

  cancelExpire(handle: TimerHandle | undefined): void {
    this.clock.clearTimeout(handle);
  }

  /** An AbortSignal aborted with a TimeoutError when the deadline passes, for APIs that take one. */
  signal(): AbortSignal {
    const controller = new AbortController();
    this.onExpire(() => controller.abort(new DOMException('deadline exceeded', 'TimeoutError')))?.unref();
    return controller.signal;
  }
}
