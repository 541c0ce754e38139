/**
 * Asynchronous calls of one eps node (docs/protocol.md#asynchronous-calls): the callee side (requests our
 * backend acknowledged, answered later with `respond`) and the caller side (answers our backend awaits),
 * each a bounded table in the configured store, and a periodic sweep that expires and forgets records.
 */
import { join } from 'node:path';
import type { CallScope } from '../core/cancellation.js';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { JsonObject, JsonValue } from '../core/json.js';
import { logger } from '../core/log.js';
import type { EpsRequest, EpsResponse } from '../core/messages.js';
import {
  BoundedTable,
  peerRekey,
  type PeerRecord,
  type Reservation,
  type TableLimits,
} from './bounded-table.js';
import type { OutboxSettings } from './outbox.js';
import { StoreAndForward } from './store-and-forward.js';
import { CalleeSide } from './callee-side.js';
import { CallerSide } from './caller-side.js';
import { AsyncError } from './errors.js';
import { FileTableStore } from './file-table-store.js';
import { LEASE_MS, LeaseWatch } from './redis-lease.js';
import { RedisTableStore } from './redis-table-store.js';
import type { RedisDatastoreSettings } from '../settings/datastore-schema.js';
import type { AsyncHost } from './host.js';
import { asyncAnswers, asyncEntries, asyncExpired } from './metrics.js';
import { decodeAwaited, decodeOutbox, decodePending, decodeReceived } from './records.js';
import { MemoryTableStore, type TableStore } from './table-store.js';
import { ObservedTableStore, StoreWatch } from './observed-store.js';
import { TtlPolicy } from './ttl.js';

const log = logger('async');

/** How often expiries are checked and old records forgotten. */
export const SWEEP_INTERVAL_MS = 1000;
/** How long an answered or expired request is remembered, to refuse a second answer clearly. */
export const RETAIN_AFTER_EXPIRY_MS = 60 * 60 * 1000;

/** Settled `async` settings (defaults in settings/eps-schema.ts). */
export interface AsyncSettings extends TableLimits {
  store:
    | { type: 'file'; settings: { directory: string } }
    | { type: 'memory'; settings?: object | undefined }
    | { type: 'redis'; settings: RedisDatastoreSettings };
  /** Seconds an acknowledged request waits for its answer when the acknowledgement names no `ttl`. */
  default_ttl: number;
  /** Upper bound of any time to live, in seconds. */
  max_ttl: number;
  /** Seconds allowed for one delivery attempt (a queued message, an expiry to our backend). */
  delivery_timeout: number;
  outbox: OutboxSettings;
}

/** How the status page names the store (no password: Redis settings show only their addresses). */
function describeStore(settings: AsyncSettings): string {
  if (settings.store.type === 'redis') return `redis ${settings.store.settings.addresses.join(', ')}`;
  if (settings.store.type === 'file') return `file ${settings.store.settings.directory}`;
  return 'memory';
}

function createStore(settings: AsyncSettings, ownName: string, table: string, lease: LeaseWatch): TableStore {
  if (settings.store.type === 'memory') return new MemoryTableStore();
  if (settings.store.type === 'redis')
    // The pending table is loaded first: its store holds the lease of this eps instance.
    return new RedisTableStore(
      settings.store.settings,
      ownName,
      table,
      table === 'pending' ? LEASE_MS : undefined,
      lease,
    );
  return new FileTableStore(join(settings.store.settings.directory, `${ownName}.${table}.jsonl`));
}

export class AsyncCalls {
  readonly callee: CalleeSide;
  readonly caller: CallerSide;
  readonly forwarding: StoreAndForward;
  private host: AsyncHost | undefined;
  private timer: TimerHandle | undefined;
  private sweeping = false;
  private closed = false;
  private readonly storeWatch: StoreWatch;
  private readonly storeDescription: string;

  constructor(
    readonly ownName: string,
    settings: AsyncSettings,
    private readonly clock: Clock = systemClock,
  ) {
    const ttl = new TtlPolicy(settings.default_ttl, settings.max_ttl);
    const hostOf = (): AsyncHost => {
      if (!this.host) throw new Error('asynchronous calls used before the broker attached them');
      return this.host;
    };
    this.storeWatch = new StoreWatch(clock);
    this.storeDescription = describeStore(settings);
    const watch = this.storeWatch;
    const lease = new LeaseWatch();
    const table = <V extends PeerRecord>(name: string, decode: (s: JsonObject) => V | undefined) =>
      new BoundedTable(
        name,
        new ObservedTableStore(createStore(settings, ownName, name, lease), watch),
        settings,
        decode,
      );
    const deliveryMs = settings.delivery_timeout * 1000;
    this.callee = new CalleeSide(
      table('pending', decodePending),
      ttl,
      clock,
      hostOf,
      (peer, ref, request, expires) => this.forwarding.outbox.add('answer', ref, peer, request, expires),
    );
    this.caller = new CallerSide(table('awaited', decodeAwaited), ttl, clock, hostOf, deliveryMs);
    this.forwarding = new StoreAndForward(
      { outbox: table('outbox', decodeOutbox), received: table('received', decodeReceived) },
      settings.outbox,
      { callee: this.callee, caller: this.caller, ttl, clock, host: hostOf, deliveryMs },
    );
  }

  /** Rejects when the store of the tables cannot be reached (readiness); resolves at once for a local one. */
  async probeStore(): Promise<void> {
    await this.callee.table.store.probe?.();
  }

  /** The store as the status page shows it: what it is, when it last answered, its last error. */
  storeStatus(): JsonObject {
    const { okAt, error } = this.storeWatch.last();
    return {
      description: this.storeDescription,
      last_answer: okAt === 0 ? null : new Date(okAt).toISOString(),
      age_s: okAt === 0 ? null : Math.round((this.clock.now() - okAt) / 100) / 10,
      error: error === '' ? null : error,
    };
  }

  attach(host: AsyncHost): void {
    this.host = host;
  }

  async open(): Promise<void> {
    await this.callee.table.load(peerRekey);
    await this.caller.table.load();
    await this.forwarding.open();
    this.updateGauges();
    this.schedule();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    await this.forwarding.close();
    await this.callee.table.close();
    await this.caller.table.close();
  }

  /**
   * Before a request from `caller` to `callee` is delivered: refuses an id in use on either side
   * (ERR_ASYNC_ID_IN_USE); for a marked request of our application, holds the room of its awaited record
   * (ERR_ASYNC_FULL when there is none, and nothing is sent), released by the record's put or the caller.
   */
  admit(id: string, caller: string, callee: string, marked: boolean): Reservation | undefined {
    if (callee === this.ownName) this.callee.refuseIfPending(id, caller);
    if (caller !== this.ownName) return undefined;
    this.caller.refuseIfAwaited(id);
    return marked ? this.caller.reserve(id, callee) : undefined;
  }

  /** `respond` at the gateway; an AsyncError becomes an error response naming what is wrong. */
  async respond(id: JsonValue | undefined, params: JsonObject, scope: CallScope): Promise<EpsResponse> {
    const replyId = typeof id === 'string' ? id : null;
    try {
      const response = await this.callee.respond(id, params, scope);
      asyncAnswers.inc({ direction: 'sent', outcome: 'delivered' });
      return response;
    } catch (e) {
      if (!(e instanceof AsyncError)) throw e;
      asyncAnswers.inc({ direction: 'sent', outcome: 'refused' });
      log.info('respond refused', { id: replyId, code: e.code, error: e.message });
      return e.toResponse(replyId);
    } finally {
      this.updateGauges();
    }
  }

  /** `_respond` from another operator (or ourselves), authenticated as `sender`. */
  async receiveAnswer(request: EpsRequest, sender: string): Promise<EpsResponse> {
    try {
      const response = await this.caller.receiveAnswer(request, sender);
      asyncAnswers.inc({
        direction: 'received',
        outcome: response.result?.duplicate ? 'duplicate' : 'delivered',
      });
      return response;
    } catch (e) {
      asyncAnswers.inc({ direction: 'received', outcome: 'refused' });
      if (!(e instanceof AsyncError)) throw e;
      log.info('answer refused', { id: request.params.id ?? null, sender, code: e.code, error: e.message });
      return e.toResponse(request.id);
    } finally {
      this.updateGauges();
    }
  }

  /** `name` called us: if it is another operator, what our outbox keeps for it is sent now. */
  peerSeen(name: string): void {
    if (name !== this.ownName) this.forwarding.outbox.wake(name);
  }

  /** `_status` at the gateway: one request's state on both sides, or the table sizes. */
  status(id: JsonValue | undefined, caller?: JsonValue): JsonObject {
    if (typeof id === 'string' && id !== '')
      return {
        id,
        pending: this.callee.status(id, caller),
        awaited: this.caller.status(id),
        outbox: this.forwarding.status(id),
      };
    return {
      pending: { entries: this.callee.table.size, bytes: this.callee.table.bytes },
      awaited: { entries: this.caller.table.size, bytes: this.caller.table.bytes },
      ...this.forwarding.sizes(),
    };
  }

  /** One sweep: expiries handed to our backend, old records forgotten (tests call it directly). */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      await this.forwarding.sweep(RETAIN_AFTER_EXPIRY_MS);
      const expired = await this.caller.expireDue();
      if (expired > 0) asyncExpired.inc({ side: 'caller' }, expired);
      const unanswered = this.callee.expiredSince();
      if (unanswered > 0) asyncExpired.inc({ side: 'callee' }, unanswered);
      await this.callee.purge(RETAIN_AFTER_EXPIRY_MS);
      await this.caller.purge(RETAIN_AFTER_EXPIRY_MS);
    } catch (e) {
      log.error('sweep of asynchronous calls failed', { error: errorMessage(e) });
    } finally {
      this.sweeping = false;
      this.updateGauges();
    }
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = this.clock.setTimeout(() => {
      void this.sweep().finally(() => this.schedule());
    }, SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  updateGauges(): void {
    this.forwarding.updateGauges();
    asyncEntries.reset();
    for (const [peer, n] of this.callee.table.peers()) asyncEntries.set({ table: 'pending', peer }, n);
    for (const [peer, n] of this.caller.table.peers()) asyncEntries.set({ table: 'awaited', peer }, n);
  }
}
