/**
 * A table store in Redis (`async.store: {type: redis, settings: ...}`, the connection settings of the
 * datastore's Redis store): one hash per table, `<key>:{<eps name>}.<table>` (redis-keys.ts), field =
 * record key, value = the record as JSON. Each change is one command whose reply is awaited before the
 * change is acknowledged; how durable that is depends on the Redis server's persistence (`appendonly yes`
 * with `appendfsync always` for an fsync per change). `load` may run again (each time this instance
 * becomes active), on the same connection, and may take up to `loadTimeoutMs` (a read is not fenced).
 *
 * Only the active instance of an operator writes (lease-keeper.ts), and only through the tables of its
 * current activation: each activation writes through `under(fence)` with a fence of its own
 * (activation-fence.ts) holding the token of the claim it belongs to. Fenced twice:
 * - here, before sending: `fence.guard` throws ERR_ASYNC_STANDBY while this instance may not write, or
 *   the activation was discarded, and nothing is sent;
 * - in Redis, when the write is executed: each change is a script (FENCED_HSET / FENCED_HDEL) that writes
 *   only if the lease key still holds the activation's token, atomically. A write that Redis executes late
 *   (held by the network or a busy server after this instance stopped being writable, and the lease was
 *   taken, by another instance or by this one again with a new token) writes nothing: it fails with
 *   ERR_ASYNC_STANDBY, is not acknowledged, and `fence.refused` makes this instance standby at once if the
 *   write's claim is still the current one.
 * No command is kept for later (ioredis' offline queue and resending after a reconnect are off): a write
 * not answered within `writeTimeoutMs` fails and is never sent again; its outcome is unknown, so
 * `fence.unknownOutcome` has the tables loaded again under a new claim (lease-keeper.ts). A write Redis
 * answers with an error (OOM, BUSY, READONLY, ...) wrote nothing: it fails, and the instance stays active.
 */
import { isJsonObject, type JsonObject } from '../core/json.js';
import { logger } from '../core/log.js';
import {
  answeredWithin,
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
import { storeKeys } from './redis-keys.js';
import { AsyncError } from './errors.js';

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
 * The slowest transfer a table's load is allowed, in bytes per millisecond (4 MB/s, a slow network): the
 * load of a table of `max_bytes` (64 MiB by default) may take that long, and REDIS_COMMAND_TIMEOUT_MS more.
 */
const LOAD_BYTES_PER_MS = 4_000;

/**
 * Records decoded between two turns of the event loop while loading: a big table (tens of MB) would
 * otherwise hold it for longer than the lease's margin, and the answer of a renewal would be read only
 * after the keeper had given writes up for lack of it.
 */
const LOAD_RECORDS_PER_TURN = 1_000;

/** How long loading a table of at most `maxBytes` may take (18.8 s at the default 64 MiB). */
export function loadTimeoutMs(maxBytes: number): number {
  return REDIS_COMMAND_TIMEOUT_MS + Math.ceil(maxBytes / LOAD_BYTES_PER_MS);
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

/** The lease that fences the writes of one activation (activation-fence.ts joins it to the keeper). */
export interface StoreFence {
  /** The lease key (redis-lease.ts) and the token of the claim the writes belong to (a value, fixed). */
  readonly key: string;
  readonly token: string;
  /** Throws (ERR_ASYNC_STANDBY) unless this instance may write now, for this activation. */
  guard(): void;
  /**
   * Redis refused a write: the lease is held by `holder` (undefined: by nobody, it expired). Makes this
   * instance standby (if the token is the current claim's) and returns the error the write fails with.
   */
  refused(holder: string | undefined): Error;
  /** A write failed without an answer (`error`): it may have landed. Returns the error the write fails with. */
  unknownOutcome(error: unknown): Error;
}

export class RedisTableStore {
  private client: RedisClient | undefined;
  /** The connection being opened (one at a time: two activations may load at once). */
  private opening: Promise<RedisClient> | undefined;
  private closed = false;
  readonly hash: string;

  /** `leaseMs`: the lease this instance must hold to write; `maxBytes`: the bound of the table. */
  constructor(
    private readonly settings: RedisDatastoreSettings,
    ownName: string,
    table: string,
    private readonly leaseMs: number,
    private readonly maxBytes: number,
  ) {
    this.hash = storeKeys(settings.key, ownName).table(table);
  }

  /** The table as one activation writes it: through `fence` (close: nothing, the connection is shared). */
  under(fence: StoreFence): TableStore {
    return {
      load: () => this.load(),
      put: (key, value) => this.write(fence, 'write', FENCED_HSET, key, JSON.stringify(value)),
      delete: (key) => this.write(fence, 'delete', FENCED_HDEL, key),
      probe: () => this.probe(),
      close: async () => undefined,
    };
  }

  private get description(): string {
    return `Redis ${this.settings.addresses.join(', ')} (hash ${this.hash})`;
  }

  async load(): Promise<Map<string, JsonObject>> {
    const client = await this.open();
    // Within the client's command timeout, loadTimeoutMs: a read is not fenced, a slow one is safe.
    const stored = await this.command('read', () => client.hgetall(this.hash));
    const out = new Map<string, JsonObject>();
    let decoded = 0;
    for (const [key, text] of Object.entries(stored)) {
      if (++decoded % LOAD_RECORDS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
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

  /** PING on the open connection (readiness). */
  async probe(): Promise<void> {
    const client = this.connected();
    await this.command('ping', () => this.timed(client.ping()));
  }

  /** Closes the connection; one still being opened is closed once open, and none is opened any more. */
  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    if (client) await closeRedisClient(client);
    await this.opening?.catch(() => undefined);
  }

  private open(): Promise<RedisClient> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.client) return Promise.resolve(this.client);
    this.opening ??= (async () => {
      const client = createRedisClient(this.settings, {
        noReplay: true,
        commandTimeoutMs: loadTimeoutMs(this.maxBytes),
      });
      client.on('error', (err: Error) => log.warn(`${this.description}: ${err.message}`));
      try {
        await openRedisClient(client, this.description);
      } finally {
        this.opening = undefined;
      }
      if (this.closed) {
        await closeRedisClient(client);
        throw this.closedError();
      }
      this.client = client;
      return client;
    })();
    return this.opening;
  }

  private closedError(): RedisStoreError {
    return new RedisStoreError(`${this.description} is closed`);
  }

  private connected(): RedisClient {
    if (!this.client) throw new RedisStoreError(`${this.description} is not open`);
    return this.client;
  }

  /**
   * Runs a write script if `fence` lets this instance write; rejects when Redis refused it (the lease does
   * not hold the fence's token), answered with an error (`notWritten`), or no answer came (the outcome is
   * unknown: `fence.unknownOutcome`).
   */
  private async write(fence: StoreFence, what: string, script: string, ...args: string[]): Promise<void> {
    fence.guard();
    const client = this.connected();
    let reply: unknown;
    try {
      reply = await this.command(what, () =>
        this.timed(client.eval(script, 2, fence.key, this.hash, fence.token, ...args)),
      );
    } catch (e) {
      // An error reply (OOM, BUSY, READONLY, ...) is an outcome: the script's only write is its last
      // command, so nothing was written. Only a write without an answer may have landed.
      if (e instanceof RedisStoreError && e.replied) throw notWritten(e);
      throw fence.unknownOutcome(e);
    }
    // The refusal names the token it was sent with (the fence's): the keeper ignores it unless that claim
    // is still the current one (a refusal may arrive after this instance lost the lease and took it again).
    if (Array.isArray(reply) && reply[0] === 'refused')
      throw fence.refused(typeof reply[1] === 'string' ? reply[1] : undefined);
  }

  /** `command` rejected unless answered within writeTimeoutMs (the client's own timeout is the load's). */
  private timed<T>(command: Promise<T>): Promise<T> {
    const ms = writeTimeoutMs(this.leaseMs);
    return answeredWithin(command, ms, `Command timed out (no answer within ${ms} ms)`);
  }

  private command<T>(what: string, run: () => Promise<T>): Promise<T> {
    return redisCommand(`${what} on ${this.description}`, run);
  }
}

/**
 * A write Redis answered with an error: nothing was written, the instance stays active. ERR_ASYNC_STANDBY
 * (retryable; a peer is told to try later), the code a write the store does not take fails with.
 */
function notWritten(e: RedisStoreError): AsyncError {
  return new AsyncError(
    'ERR_ASYNC_STANDBY',
    `the store refused the write (${e.message}); nothing was written; try again`,
  );
}
