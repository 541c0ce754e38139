/**
 * Which table store the `async.store` settings name (file, memory, or Redis fenced by the lease of
 * lease-keeper.ts), and how the status page names it.
 */
import { join } from 'node:path';
import type { RedisDatastoreSettings } from '../settings/datastore-schema.js';
import { FileTableStore } from './file-table-store.js';
import { RedisTableStore, type StoreFence } from './redis-table-store.js';
import { MemoryTableStore, type TableStore } from './table-store.js';

/** Settled `async.store` settings (defaults in settings/eps-schema.ts). */
export type AsyncStoreSettings =
  | { type: 'file'; settings: { directory: string } }
  | { type: 'memory'; settings?: object | undefined }
  | {
      type: 'redis';
      settings: RedisDatastoreSettings;
      /** Seconds the lease of the active instance lasts unless renewed. */ lease: number;
    };

/** How the status page names the store (no password: Redis settings show only their addresses). */
export function describeStore(store: AsyncStoreSettings): string {
  if (store.type === 'redis') return `redis ${store.settings.addresses.join(', ')}`;
  if (store.type === 'file') return `file ${store.settings.directory}`;
  return 'memory';
}

/** The store of `table`; a Redis store needs the `fence` of this instance's lease. */
export function createStore(
  store: AsyncStoreSettings,
  ownName: string,
  table: string,
  fence?: StoreFence,
): TableStore {
  if (store.type === 'memory') return new MemoryTableStore();
  if (store.type === 'file')
    return new FileTableStore(join(store.settings.directory, `${ownName}.${table}.jsonl`));
  if (!fence) throw new Error('a Redis store of asynchronous calls is fenced by its lease');
  return new RedisTableStore(store.settings, ownName, table, fence, store.lease * 1000);
}
