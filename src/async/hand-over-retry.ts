/**
 * Retries of what this eps hands to its own backend on its own initiative (an expiry as `respond`, an
 * `undelivered` notice): each with its own backoff (core/backoff.ts), so that one refusing or hanging
 * hand-over delays only itself, and bounded: after NOTICE_ATTEMPTS failures in a row, or NOTICE_TTL_MS after
 * it became due, it is given up (logged as an error and counted in eps_async_notices_dropped_total).
 * The state lives in memory (one entry per record that failed, at most the table's bound); after a restart
 * the count starts again, the final time to live (from the durable record) still holds.
 */
import { Backoff } from '../core/backoff.js';
import type { Clock } from '../core/clock.js';

/** Failed hand-overs in a row after which a notice is given up. */
export const NOTICE_ATTEMPTS = 10;
/** How long after it became due a notice is tried at most. */
export const NOTICE_TTL_MS = 24 * 60 * 60 * 1000;
/** Hand-overs of one sweep running at the same time (one hanging backend call cannot stall the others). */
export const SWEEP_CONCURRENCY = 8;
const RETRY_INITIAL_MS = 1000;
const RETRY_MAX_MS = 5 * 60 * 1000;

export class HandOverRetries {
  private readonly failing = new Map<string, Backoff>();

  constructor(private readonly clock: Clock) {}

  /** Whether `key` may be tried now (never failed, or its pause is over). */
  due(key: string): boolean {
    const backoff = this.failing.get(key);
    return !backoff || backoff.waitMs() <= 0;
  }

  /** A failed hand-over: true = try again later, false = give up (attempts or final time to live used up). */
  failed(key: string, dueSince: number): boolean {
    let backoff = this.failing.get(key);
    if (!backoff) {
      backoff = new Backoff({ initialMs: RETRY_INITIAL_MS, maxMs: RETRY_MAX_MS, clock: this.clock });
      this.failing.set(key, backoff);
    }
    backoff.fail();
    const give = backoff.attempts >= NOTICE_ATTEMPTS || this.clock.now() - dueSince >= NOTICE_TTL_MS;
    if (give) this.failing.delete(key);
    return !give;
  }

  attempts(key: string): number {
    return this.failing.get(key)?.attempts ?? 0;
  }

  done(key: string): void {
    this.failing.delete(key);
  }
}

/** Runs `fn` for every item, at most `limit` at a time; resolves when all settled. */
export async function inParallel<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
