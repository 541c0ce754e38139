/**
 * Redis datastore [WIRE, docs/protocol.md#datastore]: one Redis list at `key`, one element per entry (the
 * entry encoding, no chunking), appended with RPUSH and read incrementally with LRANGE. One address = single
 * node, `master_name` = Sentinel, several addresses = cluster. Additions over the original: connect and
 * command timeouts, a clear error when the start-up PING fails, paged reads, detection of a list that shrank,
 * and `appendIfCount` as a Lua script (LLEN == expected, then RPUSH everything), so that several sd processes
 * on one Redis can never fork the chain.
 */
import { Cluster, Redis, ReplyError, type RedisOptions } from 'ioredis';
import { logger } from '../core/log.js';
import { parseHostPort } from '../net/host-port.js';
import type { RedisDatastoreSettings } from '../settings/datastore-schema.js';
import type { DataEntry, Datastore } from './datastore.js';
import { decodeEntry, encodeEntry, EntryFormatError } from './entry-codec.js';
import { CodedError, errorMessage } from '../core/errors.js';

const log = logger('datastore');

export const REDIS_CONNECT_TIMEOUT_MS = 2_000;
export const REDIS_COMMAND_TIMEOUT_MS = 2_000;
/** Upper bound for connecting plus the start-up PING. */
export const REDIS_OPEN_TIMEOUT_MS = 4_000;
/** Entries fetched per LRANGE call. */
export const REDIS_READ_PAGE = 1_000;
/** Pause between reconnection attempts grows to this. */
export const REDIS_MAX_RETRY_DELAY_MS = 2_000;
/** Connection errors are logged at most this often. */
const ERROR_LOG_INTERVAL_MS = 10_000;
/** Elements pushed per RPUSH inside the script (Lua's unpack has a stack limit). */
const PUSH_GROUP = 1_000;

/** Returns -1 (nothing written) unless the list holds exactly ARGV[1] elements; else the new length. */
const APPEND_IF_COUNT_SCRIPT = `
local n = redis.call('LLEN', KEYS[1])
if n ~= tonumber(ARGV[1]) then return -1 end
for i = 2, #ARGV, ${PUSH_GROUP} do
  redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + ${PUSH_GROUP - 1}, #ARGV)))
end
return n + #ARGV - 1
`;

export class RedisStoreError extends CodedError<'ERR_DATASTORE_REDIS'> {
  override readonly name = 'RedisStoreError';
  /**
   * Redis answered the command with an error reply (OOM, BUSY, LOADING, READONLY, WRONGTYPE, a script
   * error, ...): a definite outcome, unlike a timeout or a lost connection, where it may have run.
   */
  readonly replied: boolean;

  constructor(message: string, options?: ErrorOptions & { replied?: boolean }) {
    super('ERR_DATASTORE_REDIS', message, options);
    this.replied = options?.replied ?? false;
  }
}

export type RedisClient = Redis | Cluster;
type Client = RedisClient;

export class RedisDatastore implements Datastore {
  private client: Client | undefined;
  /** Number of list elements already returned by readNew. */
  private seen = 0;
  private lastErrorLog = 0;

  constructor(readonly settings: RedisDatastoreSettings) {}

  private get description(): string {
    const mode = this.settings.master_name ? `sentinel master ${this.settings.master_name} via ` : '';
    return `Redis ${mode}${this.settings.addresses.join(', ')} (key ${this.settings.key})`;
  }

  /** The client's state; for a cluster, each node's, for Sentinel the master name (status page). */
  connectionState(): Record<string, unknown> {
    const client = this.client;
    const mode = client instanceof Cluster ? 'cluster' : this.settings.master_name ? 'sentinel' : 'single';
    if (client === undefined) return { mode, status: 'not open' };
    const state: Record<string, unknown> = { mode, status: client.status };
    if (this.settings.master_name) state.master_name = this.settings.master_name;
    if (client instanceof Cluster) {
      state.nodes = client.nodes('all').map((n) => `${n.options.host}:${n.options.port} ${n.status}`);
    }
    return state;
  }

  async open(): Promise<void> {
    if (this.client) return;
    const client = createRedisClient(this.settings);
    client.on('error', (err: Error) => this.logConnectionError(err));
    await openRedisClient(client, this.description);
    this.client = client;
  }

  async append(entries: DataEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const client = this.connected();
    await this.command('append', () => client.rpush(this.settings.key, ...entries.map(encodeEntry)));
  }

  async appendIfCount(expectedCount: number, entries: DataEntry[]): Promise<boolean> {
    const client = this.connected();
    if (entries.length === 0) {
      const length = await this.command('read length', () => client.llen(this.settings.key));
      return length === expectedCount;
    }
    const result = await this.command('append', () =>
      client.eval(APPEND_IF_COUNT_SCRIPT, 1, this.settings.key, expectedCount, ...entries.map(encodeEntry)),
    );
    return result !== -1;
  }

  async readNew(): Promise<DataEntry[]> {
    const client = this.connected();
    const key = this.settings.key;
    const out: DataEntry[] = [];
    for (;;) {
      const start = this.seen + out.length;
      const replies = await this.command('read', () =>
        client
          .multi()
          .llen(key)
          .lrangeBuffer(key, start, start + REDIS_READ_PAGE - 1)
          .exec(),
      );
      const [lengthReply, rangeReply] = replies ?? [];
      if (!lengthReply || !rangeReply || lengthReply[0] || rangeReply[0]) {
        const err = lengthReply?.[0] ?? rangeReply?.[0];
        throw new RedisStoreError(
          `cannot read ${this.description}: ${err?.message ?? 'transaction aborted'}`,
        );
      }
      const length = lengthReply[1] as number;
      if (length < start) {
        throw new RedisStoreError(
          `the list of ${this.description} shrank from ${start} to ${length} entries ` +
            '(trimmed or recreated); restart every sd on it',
        );
      }
      const page = rangeReply[1] as Buffer[];
      page.forEach((bytes, i) => out.push(this.decode(bytes, start + i)));
      if (page.length < REDIS_READ_PAGE) break;
    }
    this.seen += out.length;
    return out;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await closeRedisClient(client);
  }

  private connected(): Client {
    if (!this.client) throw new RedisStoreError(`${this.description} is not open`);
    return this.client;
  }

  private command<T>(what: string, run: () => Promise<T>): Promise<T> {
    return redisCommand(`${what} on ${this.description}`, run);
  }

  private decode(bytes: Buffer, index: number): DataEntry {
    try {
      return decodeEntry(bytes);
    } catch (err) {
      if (!(err instanceof EntryFormatError)) throw err;
      throw new RedisStoreError(
        `${this.description} holds an invalid entry at index ${index}: ${err.message}`,
      );
    }
  }

  private logConnectionError(err: Error): void {
    const now = Date.now();
    if (now - this.lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLog = now;
    log.warn(`${this.description}: ${err.message}`);
  }
}

/** How a client may differ from the datastore's (the asynchronous calls' store under a lease). */
export interface RedisClientOptions {
  /** Rejects a command unanswered after this long (default REDIS_COMMAND_TIMEOUT_MS). */
  commandTimeoutMs?: number;
  /**
   * No command is kept for later: none is queued while disconnected, none resent after a reconnect (it
   * fails instead). For writes that are valid only now, e.g. while a lease is ours.
   */
  noReplay?: boolean;
}

/** A client for the settings (single node, Sentinel or cluster), not connected yet. */
export function createRedisClient(
  settings: RedisDatastoreSettings,
  options: RedisClientOptions = {},
): Client {
  const { addresses, password, database, master_name: masterName } = settings;
  const noReplay = options.noReplay
    ? { enableOfflineQueue: false, autoResendUnfulfilledCommands: false }
    : {};
  const common: RedisOptions = {
    ...noReplay,
    password: password === '' ? undefined : password,
    db: database,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    retryStrategy: (times: number) => Math.min(times * 100, REDIS_MAX_RETRY_DELAY_MS),
  };
  const nodes = addresses.map((a) => parseHostPort(a));
  if (masterName !== '') {
    return new Redis({ ...common, sentinels: nodes, name: masterName });
  }
  if (nodes.length > 1) {
    if (database !== 0) log.warn(`Redis cluster ignores database ${database}; using 0`);
    const { db: _db, retryStrategy: _retry, ...redisOptions } = common;
    return new Cluster(nodes, {
      redisOptions,
      // No replay: nothing queued while disconnected, and no command sent again after "Connection is
      // closed" (retryDelayOnFailover; ioredis resends one even after its commandTimeout rejected it).
      // Redirections (MOVED, ASK) and TRYAGAIN / CLUSTERDOWN stay: their command was not executed.
      ...(options.noReplay ? { enableOfflineQueue: false, retryDelayOnFailover: 0 } : {}),
      lazyConnect: true,
      clusterRetryStrategy: (times: number) => Math.min(times * 100, REDIS_MAX_RETRY_DELAY_MS),
    });
  }
  const [node] = nodes;
  return new Redis({ ...common, host: node!.host, port: node!.port });
}

/** Connects and PINGs within REDIS_OPEN_TIMEOUT_MS; a RedisStoreError naming `description` otherwise. */
export async function openRedisClient(client: Client, description: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${REDIS_OPEN_TIMEOUT_MS} ms`)),
        REDIS_OPEN_TIMEOUT_MS,
      );
    });
    await Promise.race([
      (async () => {
        await client.connect();
        const pong = await client.ping();
        if (pong !== 'PONG') throw new Error(`unexpected PING reply ${JSON.stringify(pong)}`);
      })(),
      timeout,
    ]);
  } catch (err) {
    client.disconnect();
    throw new RedisStoreError(`cannot use ${description}: PING failed: ${errorMessage(err)}`);
  } finally {
    clearTimeout(timer);
  }
  log.info('Ping to Redis succeeded!', { redis: description });
}

/** Runs one command; a failure becomes a RedisStoreError naming `what` (`replied`: an error reply). */
export async function redisCommand<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof RedisStoreError) throw err;
    throw new RedisStoreError(`${what} failed: ${errorMessage(err)}`, {
      cause: err,
      replied: err instanceof ReplyError,
    });
  }
}

/**
 * QUIT, or drop the connection when QUIT fails or is not answered within REDIS_COMMAND_TIMEOUT_MS (the
 * client's own timeout may be longer: a table's load's; a stalled Redis must not hold a shutdown).
 */
export async function closeRedisClient(client: Client): Promise<void> {
  try {
    await answeredWithin(client.quit(), REDIS_COMMAND_TIMEOUT_MS, 'QUIT unanswered');
  } catch {
    client.disconnect();
  }
}

/**
 * `command`, rejected with `message` unless it settles within `ms` (shorter than the client's own command
 * timeout); a failure of it that comes later is not left unhandled.
 */
export function answeredWithin<T>(command: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  command.catch(() => undefined);
  return Promise.race([command, late]).finally(() => clearTimeout(timer));
}
