/**
 * The status source of an sd (`/status.json` and the page at `/` on its metrics listener,
 * docs/status.md): the store and its health (file or Redis, with the Sentinel or cluster state), the
 * stored records and chains, the operators in the served chain and the last submissions.
 */
import type { Clock } from '../core/clock.js';
import type { Datastore } from '../datastore/datastore.js';
import type { StoreReads } from '../metrics/store-check.js';
import type { StatusSource } from '../metrics/status.js';
import type { ServiceDirectory } from './directory.js';
import type { SubmissionLog } from './submissions.js';

/** Operators listed at most. */
export const MAX_OPERATORS_SHOWN = 500;

export interface SdStatusInput {
  description: string;
  store: Datastore;
  refreshIntervalMs: number;
  lastRead(): StoreReads;
  directory: ServiceDirectory;
  submissions: SubmissionLog;
  clock: Clock;
}

export function sdStatus(input: SdStatusInput): StatusSource {
  return {
    program: 'sd',
    name: 'sd',
    sections: () => {
      const now = input.clock.now();
      const read = input.lastRead();
      const { directory } = input;
      const stats = directory.stats;
      const entries = directory.allEntries();
      return {
        store: {
          description: input.description,
          ok: read.error === '' && read.okAt > 0,
          last_read: read.okAt === 0 ? null : new Date(read.okAt).toISOString(),
          age_s: read.okAt === 0 ? null : Math.round((now - read.okAt) / 1000),
          refresh_interval_s: input.refreshIntervalMs / 1000,
          error: read.error === '' ? null : read.error,
          ...(input.store.connectionState?.() ?? { mode: 'file' }),
        },
        directory: {
          records: stats.records,
          stored_entries: stats.stored,
          chains: stats.chains,
          served_records: stats.bestLength,
          tip: directory.tip()?.hash ?? '',
          operators: entries.slice(0, MAX_OPERATORS_SHOWN).map((e) => ({
            name: e.name,
            groups: e.groups,
            records: e.records.length,
          })),
        },
        chains: directory.chainsView(),
        submissions: input.submissions.list(),
      };
    },
  };
}
