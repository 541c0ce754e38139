/**
 * The readiness check of a store that its program re-reads periodically (the sd's datastore, the public
 * proxy's announcements): ok while the last read succeeded and is younger than its bound. A store that
 * errors fails at once with the error; one that hangs fails when its last good read grows too old.
 */
import type { Clock } from '../core/clock.js';
import { seconds, type ReadinessCheck } from './readiness.js';

/** A store is stale when its last good read is older than this many read intervals... */
export const STORE_STALE_INTERVALS = 5;
/** ...and at least this old. */
export const STORE_STALE_MIN_MS = 5_000;

/** Time (clock ms) of the last successful read, and the error of the last read ('' when it succeeded). */
export interface StoreReads {
  okAt: number;
  error: string;
}

export function storeReadCheck(
  clock: Clock,
  store: string,
  intervalMs: number,
  lastRead: () => StoreReads,
): ReadinessCheck {
  const boundMs = Math.max(STORE_STALE_INTERVALS * intervalMs, STORE_STALE_MIN_MS);
  return () => {
    const { okAt, error } = lastRead();
    const age = clock.now() - okAt;
    if (error !== '') {
      return { ok: false, detail: `${store}: cannot read: ${error} (last good read ${seconds(age)} ago)` };
    }
    if (age > boundMs) {
      return { ok: false, detail: `${store}: no read for ${seconds(age)} (bound ${seconds(boundMs)})` };
    }
    return { ok: true, detail: `${store}: read ${seconds(age)} ago` };
  };
}
