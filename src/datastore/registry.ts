/**
 * Builds the datastore named by a `datastore: {type, settings}` settings block
 * (docs/settings.md#datastore-settings).
 */
import type { DatastoreSettings } from '../settings/datastore-schema.js';
import type { Datastore } from './datastore.js';
import { FileDatastore } from './file-store.js';
import { RedisDatastore } from './redis-store.js';

/** A new, not yet opened datastore; call `open()` before use. */
export function createDatastore(settings: DatastoreSettings): Datastore {
  switch (settings.type) {
    case 'file':
      return new FileDatastore(settings.settings.filename);
    case 'redis':
      return new RedisDatastore(settings.settings);
  }
}

/** One line naming the store, for logs. */
export function describeDatastore(settings: DatastoreSettings): string {
  switch (settings.type) {
    case 'file':
      return `file ${settings.settings.filename}`;
    case 'redis':
      return `redis ${settings.settings.addresses.join(',')} key ${settings.settings.key}`;
  }
}
