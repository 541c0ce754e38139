/**
 * A table store in Redis (`async.store: {type: redis, settings: ...}`, the connection settings of the
 * datastore's Redis store): one hash per table, `<key>:<eps name>.<table>`, field = record key, value =
 * the record as JSON. Each change is one command (HSET / HDEL) whose reply is awaited before the change is
 * acknowledged; how durable that is depends on the Redis server's persistence (`appendonly yes` with
 * `appendfsync always` for an fsync per change). One store serves one eps instance (each loads the hash
 * once at start): the store of the `pending` table holds a lease (redis-lease.ts) that refuses a second,
 * and no store of the instance writes once that lease is lost.
 */
import { isJsonObject, type JsonObject } from '../core/json.js';
import { logger } from '../core/log.js';
import {
  closeRedisClient,
  createRedisClient,
  openRedisClient,
  redisCommand,
  RedisStoreError,
  type RedisClient,
} from '../datastore/redis-store.js';
import type { RedisDatastoreSettings } from '../settings/datastore-schema.js';
import { LeaseWatch, RedisLease } from './redis-lease.js';
import type { TableStore } from './table-store.js';

const log = logger('async-store');

export class RedisTableStore implements TableStore {
  private client: RedisClient | undefined;
  readonly hash: string;

  /**
   * `leaseMs`: this store holds the instance's lease (one of the tables' stores does); `watch` is shared by
   * the stores of one instance, so that none of them writes once the lease is lost.
   */
  constructor(
    private readonly settings: RedisDatastoreSettings,
    private readonly ownName: string,
    table: string,
    private readonly leaseMs?: number,
    private readonly watch = new LeaseWatch(),
  ) {
    this.hash = `${settings.key}:${ownName}.${table}`;
  }

  private get description(): string {
    return `Redis ${this.settings.addresses.join(', ')} (hash ${this.hash})`;
  }

  async load(): Promise<Map<string, JsonObject>> {
    const client = createRedisClient(this.settings);
    client.on('error', (err: Error) => log.warn(`${this.description}: ${err.message}`));
    await openRedisClient(client, this.description);
    this.client = client;
    if (this.leaseMs !== undefined) {
      const lease = new RedisLease(client, `${this.settings.key}:${this.ownName}.lease`, this.leaseMs);
      try {
        await lease.acquire();
      } catch (e) {
        await this.close();
        throw e;
      }
      this.watch.lease = lease;
    }
    const stored = await this.command('read', () => client.hgetall(this.hash));
    const out = new Map<string, JsonObject>();
    for (const [key, text] of Object.entries(stored)) {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        value = undefined;
      }
      if (isJsonObject(value)) out.set(key, value);
      else log.warn('stored record is not a JSON object; left out', { hash: this.hash, key });
    }
    return out;
  }

  async put(key: string, value: JsonObject): Promise<void> {
    this.watch.checkWritable();
    const client = this.connected();
    await this.command('write', () => client.hset(this.hash, key, JSON.stringify(value)));
  }

  async delete(key: string): Promise<void> {
    this.watch.checkWritable();
    const client = this.connected();
    await this.command('delete', () => client.hdel(this.hash, key));
  }

  /** PING on the open connection (readiness). */
  async probe(): Promise<void> {
    const client = this.connected();
    await this.command('ping', () => client.ping());
    if (this.watch.lease?.lost) throw new RedisStoreError(this.watch.lease.lost);
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (this.leaseMs !== undefined) {
      await this.watch.lease?.release();
      this.watch.lease = undefined;
    }
    if (client) await closeRedisClient(client);
  }

  private connected(): RedisClient {
    if (!this.client) throw new RedisStoreError(`${this.description} is not open`);
    return this.client;
  }

  private command<T>(what: string, run: () => Promise<T>): Promise<T> {
    return redisCommand(`${what} on ${this.description}`, run);
  }
}
