/**
 * Datastore settings used by the service directory and both proxies (docs/settings.md#datastore-settings):
 * `{type: file, settings: {filename}}` or `{type: redis, settings: {...}}`.
 */
import { z } from 'zod';
import { typedUnion, withDefault } from './schema-util.js';

export const DEFAULT_REDIS_KEY = 'entries';
export const MAX_REDIS_DATABASE = 100;

export const fileDatastoreSchema = z.strictObject({
  filename: z.string().min(1, 'must not be empty'),
});

export const redisDatastoreSchema = z.strictObject({
  addresses: z.array(z.string()).min(1, 'must list at least one address'),
  /** Required key; "" means no password. */
  password: z.string(),
  database: withDefault(z.number().int().min(0).max(MAX_REDIS_DATABASE), 0),
  key: withDefault(z.string(), DEFAULT_REDIS_KEY),
  master_name: withDefault(z.string(), ''),
});

export const datastoreSchema = typedUnion('datastore', [
  z.strictObject({ type: z.literal('file'), settings: fileDatastoreSchema }),
  z.strictObject({ type: z.literal('redis'), settings: redisDatastoreSchema }),
]);

export type FileDatastoreSettings = z.output<typeof fileDatastoreSchema>;
export type RedisDatastoreSettings = z.output<typeof redisDatastoreSchema>;
export type DatastoreSettings = z.output<typeof datastoreSchema>;
export type DatastoreType = DatastoreSettings['type'];
