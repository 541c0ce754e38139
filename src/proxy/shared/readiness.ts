/**
 * What `/readyz` checks on a proxy [docs/operations.md#health-endpoints]: settings, that its listeners are
 * bound (and no stop began), and the periodic re-read of its announcement store (public and private
 * proxies alike: shared/store-sync.ts, metrics/store-check.ts).
 */
import { systemClock, type Clock } from '../../core/clock.js';
import { Readiness, settingsLoaded } from '../../metrics/readiness.js';
import { storeReadCheck, type StoreReads } from '../../metrics/store-check.js';

export type ProxyState = 'starting' | 'listening' | 'stopping';

export interface ProxyHealthSource {
  kind: 'public' | 'private';
  state(): ProxyState;
  /** A store re-read periodically: its description, read interval and last read. */
  store?: { description: string; intervalMs: number; reads(): StoreReads } | undefined;
}

export function proxyReadiness(source: ProxyHealthSource, clock: Clock = systemClock): Readiness {
  const readiness = new Readiness(clock);
  settingsLoaded(readiness, 'proxy settings');
  readiness.register('listeners', () => {
    const state = source.state();
    return { ok: state === 'listening', detail: `${source.kind} proxy ${state}` };
  });
  const store = source.store;
  if (store !== undefined) {
    readiness.register(
      'store',
      storeReadCheck(clock, store.description, store.intervalMs, () => store.reads()),
    );
  }
  return readiness;
}
