/**
 * A table store in Redis (`async.store: {type: redis, settings: ...}`, the connection settings of the
 * datastore's Redis store): one hash per table, `<key>:<eps name>.<table>`, field = record key, value =
 * the record as JSON. Each change is one command (HSET / HDEL) whose reply is awaited before the change is
 * acknowledged; how durable that is depends on the Redis server's persistence (`appendonly yes` with
 * `appendfsync always` for an fsync per change). Only the active instance of an operator writes
 * (lease-keeper.ts): `guard` throws ERR_ASYNC_STANDBY before any write while this instance does not hold
 * the store's lease. `load` may run again (each time this instance becomes active), on the same connection.
 * No command is kept for later (ioredis' offline queue and resending after a reconnect are off): a write
 * not answered within `writeTimeoutMs` fails and is never sent again, so none is sent after the lease
 * was lost. One sent before may still be executed by Redis later (docs/operations.md, the remaining window).
 */
import { isJsonObject, type JsonObject } from '../core/json.js';
import { logger } from '../core/log.js';
import {
  closeRedisClient,
  createRedisClient,
  REDIS_COMMAND_TIMEOUT_MS,
  openRedisClient,
  redisCommand,
  RedisStoreError,
  type RedisClient,
} from '../datastore/redis-store.js';
import type { RedisDatastoreSettings } from '../settings/datastore-schema.js';
import type { TableStore } from './table-store.js';
import { WRITABLE_FRACTION } from './lease-keeper.js';

const log = logger('async-store');

/**
 * The share of the lease's margin (lease·(1 − WRITABLE_FRACTION), from when writes stop to when another
 * instance may take the lease) a command may wait for its answer: a write fails well before that.
 */
const WRITE_TIMEOUT_SHARE = 1 / 2;

/** How long a command of the tables waits for Redis with a lease of `leaseMs` (2 s at most). */
export function writeTimeoutMs(leaseMs: number): number {
  const margin = leaseMs * (1 - WRITABLE_FRACTION);
  return Math.min(REDIS_COMMAND_TIMEOUT_MS, Math.floor(margin * WRITE_TIMEOUT_SHARE));
}

export class RedisTableStore implements TableStore {
  private client: RedisClient | undefined;
  readonly hash: string;

  /** `guard`: throws unless this instance may write now (it holds the lease of `leaseMs`). */
  constructor(
    private readonly settings: RedisDatastoreSettings,
    ownName: string,
    table: string,
    private readonly guard: () => void,
    private readonly leaseMs: number,
  ) {
    this.hash = `${settings.key}:${ownName}.${table}`;
  }

  private get description(): string {
    return `Redis ${this.settings.addresses.join(', ')} (hash ${this.hash})`;
  }

  async load(): Promise<Map<string, JsonObject>> {
    let client = this.client;
    if (!client) {
      client = createRedisClient(this.settings, {
        noReplay: true,
        commandTimeoutMs: writeTimeoutMs(this.leaseMs),
      });
      client.on('error', (err: Error) => log.warn(`${this.description}: ${err.message}`));
      await openRedisClient(client, this.description);
      this.client = client;
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
    this.guard();
    const client = this.connected();
    await this.command('write', () => client.hset(this.hash, key, JSON.stringify(value)));
  }

  async delete(key: string): Promise<void> {
    this.guard();
    const client = this.connected();
    await this.command('delete', () => client.hdel(this.hash, key));
  }

  /** PING on the open connection (readiness). */
  async probe(): Promise<void> {
    const client = this.connected();
    await this.command('ping', () => client.ping());
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
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
