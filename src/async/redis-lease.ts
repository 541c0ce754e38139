/**
 * One eps instance per Redis store of asynchronous calls: the tables are loaded once at start and kept in
 * memory, so a second instance of the same operator on the same store would answer from a stale copy
 * (an answer reaching it gets ERR_ASYNC_UNKNOWN_ID, both would deliver the same queued messages). The
 * instance holding the store keeps a lease key (`<key>:<eps name>.lease`, expiring after `leaseMs` unless
 * renewed every third of it); another instance waits for it at start at most `leaseMs`, then refuses to
 * start with a clear error.
 *
 * The lease's value names its holder: host name, boot id, pid namespace and process id (plus a random part).
 * A restart after kill -9 finds its predecessor's lease; when that holder ran on this very host, in this
 * boot and pid namespace, and its process is gone, it cannot renew any more and the lease is taken over at
 * once (compare-and-set) instead of waiting up to `leaseMs`. Anything else (another host or container, a
 * live or unknown process, a system without /proc) waits as before: the fast path never takes a lease from
 * a process that may still run.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { logger } from '../core/log.js';
import type { RedisClient } from '../datastore/redis-store.js';
import { AsyncError } from './errors.js';

const log = logger('async-store');

/** How long a lease lasts unless renewed (a killed instance's lease is free again after it). */
export const LEASE_MS = 10_000;
const POLL_MS = 250;

/** Renews only if still ours; returns 1 when renewed. */
const RENEW =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0";
/** Replaces the lease only if it still holds the dead predecessor's value; returns 1 when taken over. */
const TAKE_OVER =
  "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";
/** Releases only if still ours. */
const RELEASE =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

export class RedisLease {
  private readonly token = `${placeOf(process.pid) ?? 'unknown'} ${randomBytes(12).toString('hex')}`;
  private timer: NodeJS.Timeout | undefined;
  /** Set when a renewal found the lease gone or taken: the store is no longer ours (readiness fails). */
  lost: string | undefined;

  constructor(
    private readonly client: RedisClient,
    readonly key: string,
    private readonly leaseMs = LEASE_MS,
  ) {}

  /** Takes the lease, waiting at most `leaseMs` for another holder's to end; throws if it does not. */
  async acquire(): Promise<void> {
    const until = Date.now() + this.leaseMs + POLL_MS;
    for (;;) {
      if ((await this.client.set(this.key, this.token, 'PX', this.leaseMs, 'NX')) === 'OK') break;
      const holder = await this.client.get(this.key);
      if (holder !== null && goneFromHere(holder) && (await this.takeOver(holder))) break;
      if (Date.now() >= until) {
        throw new AsyncError(
          'ERR_ASYNC_STORE_IN_USE',
          `another eps instance holds the Redis store of asynchronous calls (lease ${this.key}, ` +
            `token ${holder ?? '?'}): one store serves one eps instance; give each its own async.store.key`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    this.timer = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
  }

  /** Replaces the lease of a predecessor that is gone (only if it still holds it). */
  private async takeOver(holder: string): Promise<boolean> {
    const taken = await this.client.eval(TAKE_OVER, 1, this.key, holder, this.token, String(this.leaseMs));
    if (taken !== 1) return false;
    log.info('took over the lease of a previous instance on this host that is gone', {
      key: this.key,
      previous: holder,
    });
    return true;
  }

  private async renew(): Promise<void> {
    try {
      const renewed = await this.client.eval(RENEW, 1, this.key, this.token, String(this.leaseMs));
      if (renewed !== 1 && !this.lost) {
        this.lost = `the lease ${this.key} was lost to another eps instance`;
        log.error(this.lost);
      } else if (renewed === 1) this.lost = undefined;
    } catch (e) {
      log.warn('lease of the Redis store not renewed', { key: this.key, error: String(e) });
    }
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.client.eval(RELEASE, 1, this.key, this.token).catch(() => undefined);
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

/**
 * The lease of one eps instance as each of its table stores sees it (the store of the `pending` table
 * holds it): once it is lost, another instance may hold the store, and a write of ours could overwrite its
 * records from our stale copy, so every write is refused until this instance is restarted.
 */
export class LeaseWatch {
  lease: RedisLease | undefined;

  /** Throws ERR_ASYNC_STORE_IN_USE once the lease was lost. */
  checkWritable(): void {
    const lost = this.lease?.lost;
    if (lost)
      throw new AsyncError(
        'ERR_ASYNC_STORE_IN_USE',
        `${lost}: this eps instance no longer writes to the store of asynchronous calls (restart it)`,
      );
  }
}
