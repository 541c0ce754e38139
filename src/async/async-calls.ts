/**
 * Asynchronous calls of one eps node (docs/protocol.md#asynchronous-calls): the callee side (requests our
 * backend acknowledged, answered later with `respond`) and the caller side (answers our backend awaits),
 * each a bounded table in the configured store, and a periodic sweep that expires and forgets records.
 */
import type { CallScope } from '../core/cancellation.js';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { JsonObject, JsonValue } from '../core/json.js';
import { logger } from '../core/log.js';
import type { EpsRequest, EpsResponse } from '../core/messages.js';
import { peerRekey, type Reservation } from './bounded-table.js';
import { buildParts, type Parts, type PartsSettings, type TableName } from './async-parts.js';
import type { StoreAndForward } from './store-and-forward.js';
import type { CalleeSide } from './callee-side.js';
import type { CallerSide } from './caller-side.js';
import { AsyncError } from './errors.js';
import { RedisLease } from './redis-lease.js';
import { LeaseKeeper, standbyError } from './lease-keeper.js';
import { forPeer, tryLater } from './protocol.js';
import { activationFence, noWrites } from './activation-fence.js';
import { RedisTableStore, type StoreFence } from './redis-table-store.js';
import { createStore, describeStore, type AsyncStoreSettings } from './store-choice.js';
import type { AsyncHost } from './host.js';
import { asyncAnswers, asyncEntries, asyncExpired, asyncStoreActive } from './metrics.js';
import type { TableStore } from './table-store.js';
import { ObservedTableStore, StoreWatch } from './observed-store.js';

const log = logger('async');

/** How often expiries are checked and old records forgotten. */
export const SWEEP_INTERVAL_MS = 1000;
/** How long an answered or expired request is remembered, to refuse a second answer clearly. */
export const RETAIN_AFTER_EXPIRY_MS = 60 * 60 * 1000;

/** Settled `async` settings (defaults in settings/eps-schema.ts). */
export interface AsyncSettings extends PartsSettings {
  store: AsyncStoreSettings;
}

/** The tables of asynchronous calls, by name (their stores outlive each activation). */
const TABLES: readonly TableName[] = ['pending', 'awaited', 'outbox', 'received'];

export class AsyncCalls {
  private host: AsyncHost | undefined;
  private timer: TimerHandle | undefined;
  private sweeping = false;
  private closed = false;
  private readonly storeWatch: StoreWatch;
  private readonly storeDescription: string;
  private readonly stores: Record<TableName, TableStore | RedisTableStore>;
  /** With a shared store (Redis): who of the operator's instances is active (lease-keeper.ts). */
  private readonly keeper: LeaseKeeper | undefined;
  private parts: Parts;
  /** The tables are loaded (false: standby, or not open yet). */
  private loaded = false;
  /** Counts activations and deactivations: a load that finishes after a deactivation is discarded. */
  private generation = 0;

  constructor(
    readonly ownName: string,
    private readonly settings: AsyncSettings,
    private readonly clock: Clock = systemClock,
  ) {
    this.storeWatch = new StoreWatch(clock);
    this.storeDescription = describeStore(settings.store);
    const store = settings.store;
    if (store.type === 'redis') {
      const leaseMs = store.lease * 1000;
      const lease = new RedisLease(store.settings, ownName, leaseMs);
      this.keeper = new LeaseKeeper(lease, leaseMs, clock, {
        activate: () => this.activate(),
        deactivate: () => this.deactivate(),
      });
    }
    const stores = {} as Record<TableName, TableStore | RedisTableStore>;
    for (const name of TABLES) stores[name] = createStore(store, ownName, name, settings.max_bytes);
    this.stores = stores;
    this.parts = this.idle();
  }

  /** Writes may go to the store (with a shared one: the lease is ours, lease-keeper.ts `writable`). */
  private get writable(): boolean {
    return this.keeper?.writable() ?? true;
  }

  /** Asynchronous work is done: loaded and writable, one gate everywhere (nothing accepted unrecorded). */
  private get serving(): boolean {
    return this.loaded && this.writable;
  }

  get callee(): CalleeSide {
    return this.parts.callee;
  }

  get caller(): CallerSide {
    return this.parts.caller;
  }

  get forwarding(): StoreAndForward {
    return this.parts.forwarding;
  }

  /** Empty tables of no activation: a Redis store writes nothing through them. */
  private idle(): Parts {
    return this.build(
      noWrites(() => this.notServing()),
      () => false,
    );
  }

  /**
   * New, empty tables over the stores; a Redis store writes through `fence` (the activation's), and the
   * outbox sends only while `current` (the activation is in use) and writable.
   */
  private build(fence: StoreFence, current: () => boolean): Parts {
    const stores = {} as Record<TableName, TableStore>;
    for (const name of TABLES) {
      const store = this.stores[name];
      const fenced = store instanceof RedisTableStore ? store.under(fence) : store;
      stores[name] = new ObservedTableStore(fenced, this.storeWatch);
    }
    return buildParts(stores, this.settings, this.clock, {
      host: () => {
        if (!this.host) throw new Error('asynchronous calls used before the broker attached them');
        return this.host;
      },
      writable: () => current() && this.writable,
    });
  }

  /** Rejects when the store of the tables cannot be reached, or this instance is standby (readiness). */
  async probeStore(): Promise<void> {
    if (this.keeper && !this.serving) throw new Error(this.notServing());
    const probe = this.stores.pending.probe?.();
    if (probe) await this.storeWatch.track(probe);
  }

  /** The store as the status page shows it: what it is, its role (Redis), last answer and last error. */
  storeStatus(): JsonObject {
    const { okAt, error } = this.storeWatch.last();
    return {
      description: this.storeDescription,
      // A shared store: whether this instance is the active one of its operator, or why not.
      ...(this.keeper
        ? this.serving
          ? { role: 'active' }
          : { role: 'standby', standby: this.notServing() }
        : {}),
      last_answer: okAt === 0 ? null : new Date(okAt).toISOString(),
      age_s: okAt === 0 ? null : Math.round((this.clock.now() - okAt) / 100) / 10,
      error: error === '' ? null : error,
    };
  }

  attach(host: AsyncHost): void {
    this.host = host;
  }

  /**
   * Loads the tables and starts delivering; with a shared store only when this instance takes the lease
   * (else it stays standby and takes it over when the holder stops or dies).
   */
  async open(): Promise<void> {
    if (this.keeper) await this.keeper.start();
    else await this.activate();
  }

  /** Loads the tables fresh from the store; the loaded copy serves from then on. */
  private async activate(): Promise<void> {
    const generation = ++this.generation;
    // Writes of these tables belong to this activation (and its claim): none once it is discarded.
    const current = (): boolean => generation === this.generation && !this.closed;
    const fence = this.keeper ? activationFence(this.keeper, current) : noWrites(() => '');
    const parts = this.build(fence, current);
    try {
      await parts.callee.table.load(peerRekey);
      await parts.caller.table.load();
      await parts.forwarding.open();
    } catch (e) {
      parts.forwarding.outbox.close();
      // Discarded meanwhile (lost, or closing): its failure is no longer anyone's concern.
      if (current()) throw e;
      return;
    }
    if (!current()) {
      parts.forwarding.outbox.close(); // lost (or closing) while loading
      return;
    }
    this.parts = parts;
    this.loaded = true;
    this.updateGauges();
    this.schedule();
  }

  /** The lease is no longer ours: no more writes (the stores refuse them) nor deliveries, empty tables. */
  private deactivate(): void {
    this.generation++;
    this.loaded = false;
    this.clock.clearTimeout(this.timer);
    this.parts.forwarding.outbox.close();
    this.parts = this.idle();
    this.updateGauges();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    this.parts.forwarding.outbox.close();
    // The stores close first (together: each may wait REDIS_COMMAND_TIMEOUT_MS on a stalled Redis), which
    // also ends a load the keeper waits for; nothing is written after the lease is released.
    await Promise.all(TABLES.map((name) => this.stores[name].close()));
    await this.keeper?.close();
  }

  /**
   * While standby, what the broker answers instead of delivering (undefined: go on). A marked request of
   * another operator: "try later" (its outbox sends it again, to the active instance after a takeover); a
   * marked request of our application: ERR_ASYNC_STANDBY. Other calls are synchronous and go on (an
   * acknowledgement on their way back is refused by the store with ERR_ASYNC_STANDBY).
   */
  refusal(id: string, marked: boolean, fromPeer: boolean, toUs: boolean): EpsResponse | undefined {
    if (!this.keeper || this.serving || !marked) return undefined;
    if (fromPeer) return toUs ? tryLater(id, this.notServing()) : undefined;
    return standbyError(this.notServing()).toResponse(id);
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
      this.refuseWhileStandby();
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
    // The sender keeps the answer and sends it again (to the active instance, after a takeover).
    if (this.keeper && !this.serving) return tryLater(request.id, this.notServing());
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
      // Standby meanwhile (the lease was not renewed in time): the sender keeps the answer.
      return forPeer(e.toResponse(request.id));
    } finally {
      this.updateGauges();
    }
  }

  /** `name` called us: if it is another operator, what our outbox keeps for it is sent now. */
  peerSeen(name: string): void {
    if (name !== this.ownName) this.forwarding.outbox.wake(name);
  }

  /** `_status` at the gateway (ERR_ASYNC_STANDBY while standby: its empty tables would mislead). */
  statusAnswer(replyId: string | null, id: JsonValue | undefined, caller?: JsonValue): EpsResponse {
    try {
      this.refuseWhileStandby();
    } catch (e) {
      if (e instanceof AsyncError) return e.toResponse(replyId);
      throw e;
    }
    return { id: replyId, result: this.status(id, caller) };
  }

  /** Why this instance does no asynchronous work now (a shared store it does not hold, or is loading). */
  private notServing(): string {
    if (this.keeper?.role === 'active' && !this.loaded)
      return 'starting: this instance took the store of asynchronous calls over and is loading its tables';
    return this.keeper?.describe() ?? 'the tables of asynchronous calls are not loaded';
  }

  /** Throws ERR_ASYNC_STANDBY while another instance holds the shared store. */
  private refuseWhileStandby(): void {
    if (this.keeper && !this.serving) throw standbyError(this.notServing());
  }

  /** One request's state on both sides, or the table sizes. */
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
    // The tables of this activation throughout (their writes fail once it is discarded); no step after.
    const parts = this.parts;
    const steps = [
      () => parts.forwarding.sweep(RETAIN_AFTER_EXPIRY_MS),
      async () => {
        const expired = await parts.caller.expireDue();
        if (expired > 0) asyncExpired.inc({ side: 'caller' }, expired);
        const unanswered = parts.callee.expiredSince();
        if (unanswered > 0) asyncExpired.inc({ side: 'callee' }, unanswered);
      },
      () => parts.callee.purge(RETAIN_AFTER_EXPIRY_MS),
      () => parts.caller.purge(RETAIN_AFTER_EXPIRY_MS),
    ];
    try {
      for (const step of steps) if (this.parts === parts) await step();
    } catch (e) {
      log.error('sweep of asynchronous calls failed', { error: errorMessage(e) });
    } finally {
      this.sweeping = false;
      this.updateGauges();
    }
  }

  private schedule(): void {
    if (this.closed || !this.serving) return;
    this.timer = this.clock.setTimeout(() => {
      void this.sweep().finally(() => this.schedule());
    }, SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  updateGauges(): void {
    if (this.keeper) asyncStoreActive.set(this.serving ? 1 : 0);
    this.forwarding.updateGauges();
    asyncEntries.reset();
    for (const [peer, n] of this.callee.table.peers()) asyncEntries.set({ table: 'pending', peer }, n);
    for (const [peer, n] of this.caller.table.peers()) asyncEntries.set({ table: 'awaited', peer }, n);
  }
}
