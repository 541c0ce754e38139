/**
 * The lease of a Redis store of asynchronous calls (the backend of lease-keeper.ts): a key
 * `<key>:{<eps name>}.lease` (redis-keys.ts) whose value names the holder, expiring after the lease time
 * unless renewed. The instance holding it is active; others of the same operator on the same store are
 * standby. Each write of the tables checks in Redis that the key still holds `token` (redis-table-store.ts);
 * every claim takes the lease with a new token, so a write sent under an earlier claim of this same
 * instance, executed late, is refused too (another instance may have held the lease in between, or this
 * instance reloaded its tables). Each token starts with a prefix fixed for this lease object: a lease
 * holding a token with our prefix is ours (a claim whose answer was lost, a renewal that came too late) and
 * is taken again at once with a new token.
 *
 * The value names its holder: host name, boot id, pid namespace and process id (plus a random part).
 * A restart after kill -9 finds its predecessor's lease; when that holder ran on this very host, in this
 * boot and pid namespace, and its process is gone, it cannot renew any more and the lease is taken over at
 * once (compare-and-set) instead of waiting for it to expire. Anything else (another host or container, a
 * live or unknown process, a system without /proc) waits for the expiry: the fast path never takes a
 * lease from a process that may still run.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { logger } from '../core/log.js';
import {
  closeRedisClient,
  createRedisClient,
  openRedisClient,
  redisCommand,
  type RedisClient,
} from '../datastore/redis-store.js';
import type { RedisDatastoreSettings } from '../settings/datastore-schema.js';
import type { LeaseBackend } from './lease-keeper.js';
import { storeKeys } from './redis-keys.js';
import { writeTimeoutMs } from './redis-table-store.js';

const log = logger('async-store');

/** Renews only if still ours; returns 1 when renewed. */
const RENEW =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0";
/** Replaces the lease only if it still holds ARGV[1] (a dead predecessor's value, or ours); 1 when replaced. */
const TAKE_OVER =
  "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";
/** Releases only if it holds a token of ours (starting with ARGV[1], our prefix). */
const RELEASE =
  "local v = redis.call('get', KEYS[1]) if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

export class RedisLease implements LeaseBackend {
  /** The start of each of our tokens: this process's place and a random part of this lease object. */
  private readonly prefix = `${placeOf(process.pid) ?? 'unknown'} ${randomBytes(8).toString('hex')}.`;
  /** The value of the lease while ours (new with each claim taken; the fence of the tables' writes). */
  token = this.newToken();
  readonly key: string;
  private client: RedisClient | undefined;

  constructor(
    private readonly settings: RedisDatastoreSettings,
    ownName: string,
    private readonly leaseMs: number,
  ) {
    this.key = storeKeys(settings.key, ownName).lease;
  }

  async claim(): Promise<{ taken: true; token: string } | { taken: false; holder: string | undefined }> {
    const client = await this.connected();
    // A new token with each claim; one whose answer was lost (the lease set to its token meanwhile) is
    // recognised as ours by its prefix at the next claim.
    const fresh = this.newToken();
    const holder = await this.command('claim', () => this.take(client, fresh));
    if (holder !== fresh) return { taken: false, holder: holder ?? undefined };
    this.token = fresh;
    return { taken: true, token: fresh };
  }

  async renew(): Promise<boolean> {
    const client = await this.connected();
    const renewed = await this.command('renew', () =>
      client.eval(RENEW, 1, this.key, this.token, String(this.leaseMs)),
    );
    return renewed === 1;
  }

  async release(): Promise<void> {
    const client = this.client;
    if (client) await this.command('release', () => client.eval(RELEASE, 1, this.key, this.prefix));
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await closeRedisClient(client);
  }

  /** Tries to set the lease to `fresh`; returns its value then (`fresh` when taken; null: nobody's). */
  private async take(client: RedisClient, fresh: string): Promise<string | null> {
    if ((await client.set(this.key, fresh, 'PX', this.leaseMs, 'NX')) === 'OK') return fresh;
    const holder = await client.get(this.key);
    if (holder === null) return null;
    // Still ours (a renewal came too late to count, or a claim whose answer was lost; nobody took it
    // meanwhile): ours again, with a new token (a write sent under the old one is refused from now on).
    const ours = holder.startsWith(this.prefix);
    if (!ours && !goneFromHere(holder)) return holder;
    if ((await client.eval(TAKE_OVER, 1, this.key, holder, fresh, String(this.leaseMs))) !== 1) return holder;
    if (!ours)
      log.info('took over the lease of a previous instance on this host that is gone', {
        key: this.key,
        previous: holder,
      });
    return fresh;
  }

  private async connected(): Promise<RedisClient> {
    if (this.client) return this.client;
    const description = `Redis ${this.settings.addresses.join(', ')} (lease ${this.key})`;
    // No claim or renewal resent after a reconnect: the lease would be taken or extended unnoticed. The
    // writes' timeout: a link too slow for the writes (each one's outcome unknown) loses the lease too.
    const client = createRedisClient(this.settings, {
      noReplay: true,
      commandTimeoutMs: writeTimeoutMs(this.leaseMs),
    });
    client.on('error', (err: Error) => log.debug(`${description}: ${err.message}`));
    await openRedisClient(client, description);
    this.client = client;
    return client;
  }

  private command<T>(what: string, run: () => Promise<T>): Promise<T> {
    return redisCommand(`${what} of the lease ${this.key}`, run);
  }

  /** A lease value: our prefix (this process's place, `placeOf`, and this lease's part), a random part. */
  private newToken(): string {
    return `${this.prefix}${randomBytes(8).toString('hex')}`;
  }
}

/** `host=<name> boot=<boot id> pidns=<namespace> pid=<pid>` for a process of this machine; undefined without /proc. */
export function placeOf(pid: number): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const pidns = readlinkSync('/proc/self/ns/pid');
    return `host=${hostname()} boot=${boot} pidns=${pidns} pid=${pid}`;
  } catch {
    return undefined;
  }
}

/**
 * Whether `holder` (a lease value) names a process of this host, boot and pid namespace that no longer
 * runs. A process that exists (also one of another user, or this one: a second store of this process) or
 * any doubt: false.
 */
export function goneFromHere(holder: string): boolean {
  const pid = Number(/ pid=(\d+) /.exec(holder)?.[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  const here = placeOf(pid);
  if (here === undefined || !holder.startsWith(`${here} `)) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
