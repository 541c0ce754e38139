/**
 * A table store in Redis (`async.store: {type: redis, settings: ...}`, the connection settings of the
 * datastore's Redis store): one hash per table, `<key>:{<eps name>}.<table>` (redis-keys.ts), field =
 * record key, value = the record as JSON. Each change is one command whose reply is awaited before the
 * change is acknowledged; how durable that is depends on the Redis server's persistence (`appendonly yes`
 * with `appendfsync always` for an fsync per change). `load` may run again (each time this instance
 * becomes active), on the same connection.
 *
 * Only the active instance of an operator writes (lease-keeper.ts), fenced twice:
 * - here, before sending: `fence.guard` throws ERR_ASYNC_STANDBY while this instance may not write, and
 *   nothing is sent;
 * - in Redis, when the write is executed: each change is a script (FENCED_HSET / FENCED_HDEL) that writes
 *   only if the lease key still holds this instance's token, atomically. A write that Redis executes late
 *   (held by the network or a busy server after this instance stopped being writable, and the lease expired
 *   and was taken) writes nothing: it fails with ERR_ASYNC_STANDBY, is not acknowledged, and
 *   `fence.refused` makes this instance standby at once.
 * No command is kept for later (ioredis' offline queue and resending after a reconnect are off): a write
 * not answered within `writeTimeoutMs` fails and is never sent again.
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
import { WRITABLE_FRACTION, type LeaseKeeper } from './lease-keeper.js';
import { storeKeys } from './redis-keys.js';

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

/**
 * The scripts of a write: KEYS[1] the lease, KEYS[2] the table's hash, ARGV[1] our lease token, then the
 * field (and value). Reply: HSET's / HDEL's integer, or `{'refused', <holder or nil>}` when the lease is not
 * ours (held by another instance, or expired) and nothing was written. Plain EVAL, not EVALSHA (ioredis
 * defineCommand): the script text is small next to a record, Redis caches the compiled script either way,
 * and a write stays exactly one command sent once (no NOSCRIPT retry on a new master), like the lease's.
 */
const FENCE =
  "local holder = redis.call('get', KEYS[1]) if holder ~= ARGV[1] then return {'refused', holder} end ";
const FENCED_HSET = `${FENCE}return redis.call('hset', KEYS[2], ARGV[2], ARGV[3])`;
const FENCED_HDEL = `${FENCE}return redis.call('hdel', KEYS[2], ARGV[2])`;

/** The lease that fences the writes of a table store (async-calls.ts joins it to the lease keeper). */
export interface StoreFence {
  /** The lease key (redis-lease.ts) and this instance's token in it (new with each claim). */
  readonly key: string;
  readonly token: string;
  /** Throws (ERR_ASYNC_STANDBY) unless this instance may write now. */
  guard(): void;
  /**
   * Redis refused a write: the lease is held by `holder` (undefined: by nobody, it expired). Makes this
   * instance standby and returns the error the write fails with.
   */
  refused(holder: string | undefined): Error;
}

/** The fence of `lease` (this instance's), joined to its keeper. */
export function leaseFence(lease: { key: string; token: string }, keeper: LeaseKeeper): StoreFence {
  return {
    key: lease.key,
    get token() {
      return lease.token;
    },
    guard: () => keeper.assertWritable(),
    refused: (holder) => keeper.refused(holder),
  };
}

export class RedisTableStore implements TableStore {
  private client: RedisClient | undefined;
  readonly hash: string;

  /** `fence`: the lease of `leaseMs` this instance must hold to write. */
  constructor(
    private readonly settings: RedisDatastoreSettings,
    ownName: string,
    table: string,
    private readonly fence: StoreFence,
    private readonly leaseMs: number,
  ) {
    this.hash = storeKeys(settings.key, ownName).table(table);
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
    await this.fenced('write', FENCED_HSET, key, JSON.stringify(value));
  }

  async delete(key: string): Promise<void> {
    await this.fenced('delete', FENCED_HDEL, key);
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

  /** Runs a write script if this instance may write; rejects when Redis refused it (the lease is not ours). */
  private async fenced(what: string, script: string, ...args: string[]): Promise<void> {
    const { key, token } = this.fence;
    this.fence.guard();
    const client = this.connected();
    const reply = await this.command(what, () => client.eval(script, 2, key, this.hash, token, ...args));
    // A refusal arrives within writeTimeoutMs of the sending (or is dropped), long before this instance
    // could lose the lease and claim it again: the write was sent under the claim the keeper holds now.
    if (Array.isArray(reply) && reply[0] === 'refused')
      throw this.fence.refused(typeof reply[1] === 'string' ? reply[1] : undefined);
  }

  private command<T>(what: string, run: () => Promise<T>): Promise<T> {
    return redisCommand(`${what} on ${this.description}`, run);
  }
}
