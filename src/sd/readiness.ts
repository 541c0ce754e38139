/**
 * What `/readyz` checks on an sd [docs/operations.md#health-endpoints]: settings, the JSON-RPC listener, and
 * the datastore: the periodic re-read (every refresh interval) last succeeded, recently enough
 * (metrics/store-check.ts).
 */
import type { Clock } from '../core/clock.js';
import { Readiness, settingsLoaded } from '../metrics/readiness.js';
import { storeReadCheck, type StoreReads } from '../metrics/store-check.js';

export interface SdHealthSource {
  /** The datastore, as the operator configured it (e.g. "redis 127.0.0.1:6379 key sd-entries"). */
  store: string;
  refreshIntervalMs: number;
  /** The JSON-RPC listener accepts connections. */
  listening(): boolean;
  /** Time of the last successful store read (clock ms) and the error of the last read, if it failed. */
  lastRead(): StoreReads;
}

export function sdReadiness(source: SdHealthSource, clock: Clock): Readiness {
  const readiness = new Readiness(clock);
  settingsLoaded(readiness, 'sd settings');
  readiness.register('listeners', () =>
    source.listening()
      ? { ok: true, detail: 'JSON-RPC listener accepting connections' }
      : { ok: false, detail: 'JSON-RPC listener not listening' },
  );
  readiness.register(
    'store',
    storeReadCheck(clock, source.store, source.refreshIntervalMs, () => source.lastRead()),
  );
  return readiness;
}
