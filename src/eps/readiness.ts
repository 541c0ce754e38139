/**
 * What `/readyz` checks on an eps [docs/operations.md#health-endpoints]: settings, that every channel is
 * open, and the directory. An `api` directory is fresh while its last verified refresh is younger than
 * DIRECTORY_STALE_PERIODS refresh periods (at least DIRECTORY_STALE_MIN_MS). A stale one is not ready,
 * except with a `state_file` and a verified chain: that node was set up to route from its verified state
 * while the sd is away, so it stays ready and the detail says so. With a Redis `async` store: it answers PING.
 */
import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import { ApiDirectory } from '../directory/api-directory.js';
import type { Directory } from '../directory/directory.js';
import { Readiness, seconds, settingsLoaded, type CheckResult } from '../metrics/readiness.js';

/** The directory is stale when its last refresh is older than this many refresh periods... */
export const DIRECTORY_STALE_PERIODS = 3;
/** ...and at least this old (the retry backoff reaches 5 s; a short outage is not a reason to drain). */
export const DIRECTORY_STALE_MIN_MS = 15_000;

export interface EpsHealthSource {
  directory: Directory;
  /** The directory's first load is done. */
  directoryStarted(): boolean;
  /** Channels open and configured; `stopping` once a graceful stop began. */
  channels(): { open: number; total: number; stopping: boolean };
  /** A store of the asynchronous calls on a server (Redis), probed on every /readyz. */
  asyncStore?: { description: string; probe(): Promise<void> } | undefined;
}

export function epsReadiness(source: EpsHealthSource, clock: Clock): Readiness {
  const readiness = new Readiness(clock);
  settingsLoaded(readiness, 'eps settings');
  readiness.register('listeners', () => {
    const { open, total, stopping } = source.channels();
    if (stopping) return { ok: false, detail: 'stopping: listeners closed' };
    const detail = `${open} of ${total} channels open`;
    return { ok: open === total, detail };
  });
  readiness.register('directory', () => {
    if (!source.directoryStarted()) return { ok: false, detail: 'first directory load not finished' };
    const { directory } = source;
    if (directory instanceof ApiDirectory) return apiDirectoryCheck(directory, clock.now());
    return { ok: true, detail: `json directory loaded: ${directory.entries().length} entries` };
  });
  const store = source.asyncStore;
  if (store !== undefined) {
    readiness.register('async-store', async () => {
      try {
        await store.probe();
        return { ok: true, detail: `${store.description} reachable` };
      } catch (e) {
        return { ok: false, detail: `${store.description}: ${errorMessage(e)}` };
      }
    });
  }
  return readiness;
}

function apiDirectoryCheck(directory: ApiDirectory, now: number): CheckResult {
  const s = directory.stats();
  const boundMs = Math.max(DIRECTORY_STALE_PERIODS * s.periodMs, DIRECTORY_STALE_MIN_MS);
  const chain = `${s.records} verified records, tip ${s.tip === '' ? '(none)' : s.tip.slice(0, 16)}`;
  const age = s.lastSuccessAt === 0 ? undefined : now - s.lastSuccessAt;
  if (age !== undefined && age <= boundMs) {
    return { ok: true, detail: `${chain}; refreshed ${seconds(age)} ago (bound ${seconds(boundMs)})` };
  }
  const last = age === undefined ? 'no refresh yet' : `last refresh ${seconds(age)} ago`;
  const why = `${last}, bound ${seconds(boundMs)}${s.lastError ? `; sd: ${s.lastError}` : ''}`;
  if (s.stateFile && s.records > 0) {
    return { ok: true, detail: `routing from the verified state file (${chain}); stale: ${why}` };
  }
  return { ok: false, detail: `directory stale (${chain}): ${why}` };
}
