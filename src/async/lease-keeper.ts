/**
 * Active/standby of eps instances of one operator on one shared store of asynchronous calls
 * (docs/operations.md#an-active-standby-pair): the instance holding the store's lease is active (loads the
 * tables, writes, delivers); any other is standby and tries to take the lease every STANDBY_POLL_MS, for
 * as long as it runs. The tables live in memory once loaded (bounded-table.ts), so only one instance may
 * be active: active-active would answer from diverging copies.
 *
 * States: standby --(claim taken)--> active --(renewal refused, or not renewed within
 * WRITABLE_FRACTION of the lease)--> standby. `close` releases the lease, also one still ours while
 * standby (a standby takes it within one poll). Writes are allowed only while `writable()`: active and the
 * last successful renewal began less than WRITABLE_FRACTION of the lease ago, so the lease is still ours in
 * the store when the write lands (another instance can take it only after it expired). Only changes of
 * state are logged, never a poll.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import { logger } from '../core/log.js';
import { AsyncError } from './errors.js';

const log = logger('async-store');

/** How often a standby tries to take the lease (a takeover after a release waits at most this long). */
export const STANDBY_POLL_MS = 250;
/** Renewals per lease time (a lease of 10 s is renewed every 3.3 s). */
const RENEWALS_PER_LEASE = 3;
/**
 * Writes stop once the last successful renewal began this fraction of the lease ago: the rest of the
 * lease is the margin for a write in flight to land before another instance may take the lease.
 */
export const WRITABLE_FRACTION = 2 / 3;

/** The lease in the shared store (redis-lease.ts). */
export interface LeaseBackend {
  readonly key: string;
  /**
   * One attempt to take the lease: `taken` with the token it holds now (the fence of the writes made under
   * this claim), or who holds it (undefined: nobody, it just expired).
   */
  claim(): Promise<{ taken: true; token: string } | { taken: false; holder: string | undefined }>;
  /** Extends the lease if it is still ours; false when it was taken or has expired. */
  renew(): Promise<boolean>;
  /** Gives the lease up if it is still ours. */
  release(): Promise<void>;
  close(): Promise<void>;
}

export interface LeaseHandlers {
  /** The lease is ours: load the tables and start delivering (rejects: the lease is given up again). */
  activate(): Promise<void>;
  /** The lease is no longer ours: stop writing and delivering at once. */
  deactivate(why: string): void;
}

export type LeaseRole = 'standby' | 'active' | 'closed';

export class LeaseKeeper {
  private state: LeaseRole = 'standby';
  /** Who holds the lease while we are standby (as the lease names it). */
  private holderToken: string | undefined;
  /** When the last successful renewal (or the claim) began. */
  private renewedAt = 0;
  private timer: TimerHandle | undefined;
  /** A renewal or claim is running (it schedules the next one when it ends; `close` waits for it). */
  private running: Promise<void> | undefined;
  /** The token of the current claim (undefined: none yet); writes sent under another one are stale. */
  private claimToken: string | undefined;
  /** Counts claims taken: an activation whose claim is no longer the current one is stale. */
  private claims = 0;
  /** Fires when writes must stop (renewedAt + WRITABLE_FRACTION of the lease): standby at once. */
  private writableTimer: TimerHandle | undefined;
  private activation: Promise<void> | undefined;
  /** The last error of the store while it fails (logged once per streak). */
  private failing: string | undefined;
  /** After a failed activation, or a second unknown outcome within a lease, the next claim waits until then. */
  private pausedUntil = 0;
  /** When a write's unknown outcome last made this instance standby (undefined: never). */
  private unknownAt: number | undefined;

  constructor(
    private readonly backend: LeaseBackend,
    private readonly leaseMs: number,
    private readonly clock: Clock,
    private readonly handlers: LeaseHandlers,
  ) {}

  get role(): LeaseRole {
    return this.state;
  }

  /** The lease key (redis-lease.ts). */
  get key(): string {
    return this.backend.key;
  }

  /** The token of the claim taken last (the fence of an activation; undefined before the first). */
  get token(): string | undefined {
    return this.claimToken;
  }

  /** The holder while standby, as the lease names it (undefined: unknown or none). */
  get holder(): string | undefined {
    return this.holderToken;
  }

  /**
   * The first claim: resolves once active (tables loaded) or standby; then keeps going on its own.
   * Rejects when the store cannot be reached or the first activation fails (the eps does not start).
   */
  async start(): Promise<void> {
    const first = this.claim(true);
    this.running = first;
    try {
      await first;
    } finally {
      this.running = undefined;
    }
    // Renewals go on while the tables load (a big table may take longer than the lease).
    this.schedule();
    try {
      await this.activation;
    } catch (e) {
      await this.lose('loading the tables failed', true);
      this.clock.clearTimeout(this.timer);
      throw e;
    }
  }

  /** Writes may go to the store now (else ERR_ASYNC_STANDBY). */
  writable(): boolean {
    return this.state === 'active' && this.clock.now() - this.renewedAt < this.leaseMs * WRITABLE_FRACTION;
  }

  /** Throws ERR_ASYNC_STANDBY unless `writable()`. */
  assertWritable(): void {
    if (!this.writable()) throw standbyError(this.describe());
  }

  /**
   * The store refused a write sent under the claim of `token` because the lease is held by `holder`
   * (undefined: nobody, it expired), as found when Redis executed it (redis-table-store.ts): standby at once
   * if that claim is the current one (a late refusal of an earlier claim changes nothing). Returns the
   * error of the write.
   */
  refused(holder: string | undefined, token: string): AsyncError {
    if (token !== this.claimToken) return staleError();
    if (this.state === 'active') {
      this.holderToken = holder;
      const by = holder === undefined ? 'nobody (it expired)' : holderName(holder);
      this.standbyNow(`a write was refused by the store: the lease is held by ${by}`);
    }
    return standbyError(this.describe());
  }

  /**
   * A write sent under the claim of `token` failed without an answer (`why`): it may have landed or not,
   * or may still land, so the tables in memory may differ from the store. If that claim is the current one:
   * standby at once, keeping the lease; the next poll takes it again with a new token (redis-lease.ts), so
   * a write still in flight is refused from then on, and the tables are loaded afresh. A second one within
   * a lease of the first: the lease is released and not claimed for a lease (the link loses writes; a
   * standby may do better). Returns the error.
   */
  unknownOutcome(why: string, token: string): AsyncError {
    if (token !== this.claimToken) return staleError();
    if (this.state === 'active') {
      const now = this.clock.now();
      const again = this.unknownAt !== undefined && now - this.unknownAt < this.leaseMs;
      this.unknownAt = now;
      if (again) {
        // A link that loses writes keeps doing so: the lease goes to a standby (none is claimed for a lease).
        this.pausedUntil = now + this.leaseMs;
        void this.lose(
          `the outcome of a write is unknown again within a lease (${why}); lease given up`,
          true,
        );
        if (!this.running) this.schedule();
      } else this.standbyNow(`the outcome of a write is unknown (${why}); the tables are loaded again`);
    }
    return standbyError(`the outcome of a write to the store is unknown (${why}); try again`);
  }

  /** Why this instance does no asynchronous work now (for errors, readiness and the status page). */
  describe(): string {
    if (this.state === 'closed') return 'the store of asynchronous calls is closed (stopping)';
    if (this.state === 'active')
      return `the lease ${this.backend.key} has not been renewed in time; waiting for the renewal`;
    return `standby: the store of asynchronous calls is held by ${holderName(this.holderToken)}`;
  }

  /** Stops trying, lets an activation in progress end, and releases the lease if it holds a token of ours. */
  async close(): Promise<void> {
    const wasActive = this.state === 'active';
    this.state = 'closed';
    this.clock.clearTimeout(this.timer);
    this.clock.clearTimeout(this.writableTimer);
    // A claim in flight that lands gives the lease back itself (`claim`), before the backend closes.
    await this.running?.catch(() => undefined);
    await this.activation?.catch(() => undefined);
    try {
      // Also while standby: the lease may still hold a token of ours (standby after an unknown outcome,
      // a claim whose answer was lost); RELEASE deletes only such a value, so a standby takes it at once.
      if (wasActive) await this.backend.release();
      else await this.backend.release().catch(() => undefined);
    } finally {
      await this.backend.close();
    }
    if (wasActive)
      log.info('lease released: a standby instance may take the store now', { key: this.backend.key });
  }

  private schedule(): void {
    if (this.state === 'closed') return;
    this.clock.clearTimeout(this.timer);
    const delay =
      this.state === 'active'
        ? Math.floor(this.leaseMs / RENEWALS_PER_LEASE)
        : Math.max(STANDBY_POLL_MS, this.pausedUntil - this.clock.now());
    this.timer = this.clock.setTimeout(() => void this.tick(), delay);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const step =
      this.state === 'active' ? this.renew() : this.state === 'standby' ? this.claim(false) : undefined;
    this.running = step;
    try {
      await step;
    } finally {
      this.running = undefined;
    }
    this.schedule();
  }

  /** Standby at once, polling from now on (not at the renewal that was due); the lease is kept. */
  private standbyNow(why: string): void {
    void this.lose(why, false);
    if (!this.running) this.schedule();
  }

  private async claim(strict: boolean): Promise<void> {
    const started = this.clock.now();
    let claim: Awaited<ReturnType<LeaseBackend['claim']>>;
    try {
      claim = await this.backend.claim();
    } catch (e) {
      if (strict) throw e;
      this.storeFailed(e);
      return;
    }
    this.storeAnswered();
    // Closed meanwhile: `close` gives a lease just taken back once this claim has ended.
    if (this.state !== 'standby') return;
    if (!claim.taken) {
      if (claim.holder !== undefined && claim.holder !== this.holderToken)
        log.info(`standby: the store of asynchronous calls is held by ${holderName(claim.holder)}`, {
          key: this.backend.key,
        });
      this.holderToken = claim.holder ?? this.holderToken;
      return;
    }
    this.state = 'active';
    this.claimToken = claim.token;
    const seq = ++this.claims;
    this.renewed(started);
    this.holderToken = undefined;
    log.info('active: this instance holds the store of asynchronous calls', { key: this.backend.key });
    this.activation = this.handlers.activate().catch(async (e: unknown) => {
      // An activation of an earlier claim (lost meanwhile, and claimed again) is discarded anyway.
      if (seq !== this.claims) return;
      if (strict) throw e; // `start` fails
      log.error('the tables of asynchronous calls could not be loaded; lease given up, standby', {
        key: this.backend.key,
        error: errorMessage(e),
      });
      this.pausedUntil = this.clock.now() + this.leaseMs;
      await this.lose('loading the tables failed', true);
    });
  }

  private async renew(): Promise<void> {
    const started = this.clock.now();
    try {
      if (await this.backend.renew()) {
        this.storeAnswered();
        if (this.state === 'active') this.renewed(started);
        return;
      }
      await this.lose(`the lease ${this.backend.key} was taken by another instance or expired`, false);
    } catch (e) {
      this.storeFailed(e);
      if (this.state === 'active' && !this.writable())
        await this.lose(
          `the lease ${this.backend.key} could not be renewed in time: ${errorMessage(e)}`,
          false,
        );
    }
  }

  /**
   * A renewal (or the claim) that began at `at` succeeded: writes may go on until WRITABLE_FRACTION of
   * the lease after it; a timer then makes this instance standby at once, without waiting for a renewal
   * still in flight (its timeout may be longer than the margin): "not writable" and "not serving" are one.
   */
  private renewed(at: number): void {
    this.renewedAt = at;
    this.clock.clearTimeout(this.writableTimer);
    const delay = Math.max(0, at + this.leaseMs * WRITABLE_FRACTION - this.clock.now());
    this.writableTimer = this.clock.setTimeout(() => {
      if (this.state === 'active' && !this.writable())
        void this.lose(
          `the lease ${this.backend.key} could not be renewed in time: ${this.failing ?? 'no answer yet'}`,
          false,
        );
    }, delay);
    this.writableTimer.unref();
  }

  /** Back to standby (`release`: give the lease up, it may still be ours). */
  private async lose(why: string, release: boolean): Promise<void> {
    if (this.state !== 'active') return;
    this.state = 'standby';
    this.clock.clearTimeout(this.writableTimer);
    log.error(`standby: ${why}; writes and deliveries stopped`, { key: this.backend.key });
    this.handlers.deactivate(why);
    if (release) await this.backend.release().catch(() => undefined);
  }

  private storeFailed(e: unknown): void {
    const message = errorMessage(e);
    if (this.failing === undefined)
      log.warn('the lease of the store of asynchronous calls cannot be reached', {
        key: this.backend.key,
        error: message,
      });
    this.failing = message;
  }

  private storeAnswered(): void {
    if (this.failing !== undefined) log.info('the store of asynchronous calls answers again');
    this.failing = undefined;
  }
}

/** A write of an earlier claim of this instance (its tables were discarded when that claim was lost). */
function staleError(): AsyncError {
  return standbyError('the write belonged to an earlier activation of this instance, discarded since');
}

/** ERR_ASYNC_STANDBY for our application: retryable, at the active instance. */
export function standbyError(why: string): AsyncError {
  return new AsyncError('ERR_ASYNC_STANDBY', `${why}; try the active instance of this operator`);
}

/** `host=<name> pid=<pid>` of a lease's value (redis-lease.ts), or the value itself. */
export function holderName(token: string | undefined): string {
  if (token === undefined) return 'another instance';
  const host = / ?host=(\S+)/.exec(token)?.[1];
  const pid = / pid=(\d+)/.exec(token)?.[1];
  return host && pid ? `host=${host} pid=${pid}` : token;
}
