/**
 * Exponential backoff with jitter for reconnect and retry loops: the n-th failure in a row waits
 * min(maxMs, initialMs * 2^(n-1)), of which the `jitter` fraction is random (so that many clients that
 * failed together do not retry together); a success starts over from initialMs.
 *
 * Wake on demand: when something needs the connection now (a call waiting for a peer), `demand()` brings
 * the next attempt forward to `demandGapMs` after the last failure (never sooner), and wakes a loop that
 * sleeps in `untilDue()`. So a peer that is back is tried again quickly while calls want it, and a dead
 * one gets at most one attempt per demandGapMs however many calls ask.
 */
import { systemClock, type Clock } from './clock.js';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Part of each delay that is random, 0..1: 0.5 waits between half and all of it (default 0.5). */
  jitter?: number;
  /** Uniform in [0, 1) (default Math.random). */
  random?: () => number;
  clock?: Clock;
  /** Shortest time from a failure to an attempt brought forward by demand() (default initialMs). */
  demandGapMs?: number;
}

export class Backoff {
  private failures = 0;
  private retryAt = 0;
  private failedAt = 0;
  private sleeping?: () => void;
  private readonly jitter: number;
  private readonly random: () => number;
  readonly clock: Clock;

  constructor(private readonly opts: BackoffOptions) {
    this.jitter = opts.jitter ?? 0.5;
    this.random = opts.random ?? Math.random;
    this.clock = opts.clock ?? systemClock;
  }

  /** Failures in a row so far. */
  get attempts(): number {
    return this.failures;
  }

  /** Records a failure; returns the delay before the next attempt (also kept for waitMs()). */
  fail(): number {
    this.failures++;
    const full = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** (this.failures - 1));
    const delay = full * (1 - this.jitter + this.jitter * this.random());
    this.failedAt = this.clock.now();
    this.retryAt = this.failedAt + delay;
    return delay;
  }

  /**
   * Something needs the connection now: the next attempt is due at most demandGapMs after the last failure.
   * Wakes a loop sleeping in untilDue(); returns the (new) time until the attempt is due.
   */
  demand(): number {
    if (this.failures > 0) {
      const gap = this.opts.demandGapMs ?? this.opts.initialMs;
      this.retryAt = Math.min(this.retryAt, this.failedAt + gap);
    }
    this.sleeping?.();
    return this.waitMs();
  }

  /** Resolves once the next attempt is due (at once if it is): after the backoff, or sooner on demand(). */
  async untilDue(): Promise<void> {
    for (let wait = this.waitMs(); wait > 0; wait = this.waitMs()) {
      const nap = this.sleep(wait);
      this.sleeping = nap.wake;
      try {
        await nap.done;
      } finally {
        if (this.sleeping === nap.wake) this.sleeping = undefined;
      }
    }
  }

  /** A success (or a connection that lived long enough): the next failure waits initialMs again. */
  reset(): void {
    this.failures = 0;
    this.retryAt = 0;
    this.sleeping?.();
  }

  /** Time until the next attempt is due, 0 if it is. */
  waitMs(): number {
    return Math.max(0, this.retryAt - this.clock.now());
  }

  /** Resolves after `ms` on this backoff's clock; `wake()` on the returned handle resolves it at once. */
  sleep(ms: number): { done: Promise<void>; wake: () => void } {
    let wake: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(resolve, ms);
      wake = () => {
        this.clock.clearTimeout(timer);
        resolve();
      };
    });
    return { done, wake };
  }
}
