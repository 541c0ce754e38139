/**
 * One eps instance per Redis store of asynchronous calls: the tables are loaded once at start and kept in
 * memory, so a second instance of the same operator on the same store would answer from a stale copy
 * (an answer reaching it gets ERR_ASYNC_UNKNOWN_ID, both would deliver the same queued messages). The
 * instance holding the store keeps a lease key (`<key>:<eps name>.lease`, a random token, expiring after
 * `leaseMs` unless renewed every third of it); another instance waits for it at start at most `leaseMs`
 * (a node restarted after kill -9 finds its old lease expiring), then refuses to start with a clear error.
 */
import { randomBytes } from 'node:crypto';
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
/** Releases only if still ours. */
const RELEASE =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

export class RedisLease {
  private readonly token = randomBytes(12).toString('hex');
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
      if (Date.now() >= until) {
        const holder = await this.client.get(this.key);
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
