/**
 * The time source and timers that time-dependent code takes as a parameter: the system's in production,
 * a manual clock in tests (test/helpers/manual-clock.ts), so timeouts are tested without waiting.
 */

/** A scheduled timer; `unref()` lets the process exit while it is pending. */
export interface TimerHandle {
  unref(): unknown;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer of this clock; undefined and fired timers are ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** Longest delay a Node.js timer supports (about 24.8 days); longer ones would fire after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: Date.now,
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(ms, MAX_TIMER_MS)),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};
