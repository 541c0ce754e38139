/**
 * What `/readyz` checks on an sd [docs/operations.md#health-endpoints]: settings, the JSON-RPC listener, and
 * the datastore: the periodic re-read (every refresh interval) last succeeded, recently enough. A store that
 * errors fails at once; one that hangs fails when its last good read is older than the bound.
 */
import type { Clock } from '../core/clock.js';
import { Readiness, seconds, settingsLoaded } from '../metrics/readiness.js';

/** The store is stale when its last good read is older than this many refresh intervals... */
export const STORE_STALE_INTERVALS = 5;
/** ...and at least this old. */
export const STORE_STALE_MIN_MS = 5_000;

export interface SdHealthSource {
  /** The datastore, as the operator configured it (e.g. "redis 127.0.0.1:6379 key sd-entries"). */
  store: string;
  refreshIntervalMs: number;
  /** The JSON-RPC listener accepts connections. */
  listening(): boolean;
  /** Time of the last successful store read (clock ms) and the error of the last read, if it failed. */
  lastRead(): { okAt: number; error: string };
}

export function sdReadiness(source: SdHealthSource, clock: Clock): Readiness {
  const readiness = new Readiness(clock);
  settingsLoaded(readiness, 'sd settings');
  readiness.register('listeners', () =>
    source.listening()
      ? { ok: true, detail: 'JSON-RPC listener accepting connections' }
      : { ok: false, detail: 'JSON-RPC listener not listening' },
  );
  const boundMs = Math.max(STORE_STALE_INTERVALS * source.refreshIntervalMs, STORE_STALE_MIN_MS);
  readiness.register('store', () => {
    const { okAt, error } = source.lastRead();
    const age = clock.now() - okAt;
    if (error !== '') {
      return {
        ok: false,
        detail: `${source.store}: cannot read: ${error} (last good read ${seconds(age)} ago)`,
      };
    }
    if (age > boundMs) {
      return {
        ok: false,
        detail: `${source.store}: no read for ${seconds(age)} (bound ${seconds(boundMs)})`,
      };
    }
    return { ok: true, detail: `${source.store}: read ${seconds(age)} ago` };
  });
  return readiness;
}
