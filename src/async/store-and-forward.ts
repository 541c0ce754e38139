/**
 * Store and forward of asynchronous calls (docs/protocol.md#store-and-forward): a request our application
 * marked asynchronous (`_async` in params) whose callee cannot be reached is queued in the outbox and
 * acknowledged to the application at once; an answer of our application (`respond`) whose caller cannot be
 * reached is queued likewise. This ties the outbox (delivery, retries, expiry) to the two sides: what the
 * callee eventually answers goes to our backend through the caller side, an expiry becomes an error for
 * our backend. The `received` memory makes repeats of marked requests harmless on the callee's side.
 */
import { Cancellation, type CallScope } from '../core/cancellation.js';
import type { Clock } from '../core/clock.js';
import { Deadline } from '../core/deadline.js';
import type { JsonObject } from '../core/json.js';
import { logger } from '../core/log.js';
import type { EpsRequest, EpsResponse } from '../core/messages.js';
import { peerRekey, type BoundedTable, type Reservation } from './bounded-table.js';
import type { CalleeSide } from './callee-side.js';
import type { CallerSide } from './caller-side.js';
import { AsyncError } from './errors.js';
import type { AsyncHost } from './host.js';
import { setOutboxGauges } from './metrics.js';
import { Outbox, type OutboxSettings } from './outbox.js';
import { outboxKey, refOf } from './outbox-keys.js';
import { ACK_KEY, acknowledgement } from './protocol.js';
import { askedTtl, Received } from './received.js';
import type { OutboxRecord, ReceivedRecord } from './records.js';
import type { TtlPolicy } from './ttl.js';

const log = logger('async');

export interface Sides {
  callee: CalleeSide;
  caller: CallerSide;
  ttl: TtlPolicy;
  clock: Clock;
  host: () => AsyncHost;
  deliveryMs: number;
  /** Whether the stores take writes now (the lease is ours, lease-keeper.ts `writable`). */
  writable: () => boolean;
}

export class StoreAndForward {
  readonly outbox: Outbox;
  readonly received: Received;

  constructor(
    tables: { outbox: BoundedTable<OutboxRecord>; received: BoundedTable<ReceivedRecord> },
    settings: OutboxSettings,
    private readonly sides: Sides,
  ) {
    const { clock, host, deliveryMs, ttl } = sides;
    this.outbox = new Outbox(tables.outbox, settings, clock, host, deliveryMs, {
      delivered: (record, response) => this.delivered(record, response),
      undeliverable: (record, error) => this.undeliverable(record, error),
      writable: sides.writable,
    });
    this.received = new Received(tables.received, sides.callee.table, ttl, clock);
  }

  /** Loads the outbox and the repeat memory and starts delivering what is queued. */
  async open(): Promise<void> {
    await this.outbox.table.load((_key, record) => outboxKey(record));
    await this.received.table.load(peerRekey);
    // A queued request without its awaited record was never acknowledged (a crash between the writes).
    await this.outbox.resume(
      (r) => r.kind === 'answer' || this.sides.caller.table.get(r.request.id) !== undefined,
    );
  }

  async close(): Promise<void> {
    this.outbox.close();
    await this.outbox.table.close();
    await this.received.table.close();
  }

  /**
   * Our application's marked request found no way to the callee: queue it (outbox first, then the awaited
   * record, so that a crash in between leaves nothing acknowledged behind) and acknowledge it. Refused
   * (ERR_ASYNC_ID_IN_USE) while a request under the same id is still awaited or queued. `reservation` is
   * the room of the awaited record (caller-side.ts `reserve`).
   */
  async queueRequest(request: EpsRequest, callee: string, reservation?: Reservation): Promise<EpsResponse> {
    const { id, method } = request;
    const ttl = this.sides.ttl.seconds(this.outbox.ttlSeconds(method, askedTtl(request.params)));
    const expires = this.sides.clock.now() + ttl * 1000;
    const { _client: _c, _caller: _cc, ...params } = request.params;
    params[ACK_KEY] = { ttl };
    const { caller } = this.sides;
    try {
      await caller.recordNew(id, async () => {
        await this.outbox.add('request', id, callee, { method, id, params }, expires);
        try {
          await caller.table.put(id, { peer: callee, expires, queued: true }, reservation);
        } catch (e) {
          await this.outbox.remove(id);
          throw e;
        }
      });
    } catch (e) {
      if (!(e instanceof AsyncError)) throw e;
      log.warn('request for an unreachable callee cannot be queued', { id, callee, error: e.message });
      return e.toResponse(id);
    } finally {
      this.updateGauges();
    }
    return { id, result: { [ACK_KEY]: { ttl, request: id, queued: true } } };
  }

  /** What a peer answered to a queued message. */
  private async delivered(record: OutboxRecord, response: EpsResponse | null): Promise<void> {
    const { id } = record.request;
    if (record.kind === 'answer') return this.sides.callee.answerSent(record.peer, refOf(record));
    const awaited = this.sides.caller.table.get(id);
    // Answered meanwhile (the callee's `_respond` came first) or already settled: nothing more to do.
    if (!awaited?.queued) return;
    const ack = response && !response.error ? acknowledgement(response.result) : undefined;
    if (ack) return this.sides.caller.onQueuedAcknowledged(id, record.peer, ack.ttlSeconds);
    await this.sides.caller.settleQueued(id, record.peer, response, this.scope());
  }

  /**
   * A queued message that will never be delivered. A request: the awaited record expires at the same
   * moment and our backend receives `respond` with ERR_ASYNC_UNDELIVERED (caller-side.ts). An answer:
   * our backend receives `undelivered` with the request id, the caller and the error; throws unless it
   * took it.
   */
  private async undeliverable(record: OutboxRecord, error: AsyncError): Promise<void> {
    if (record.kind === 'request') return;
    const { host } = this.sides;
    const id = refOf(record);
    const own = host().ownName;
    const params: JsonObject = { request: id, caller: record.peer, ...error.toResponse(id) };
    delete params.id;
    const notice: EpsRequest = { method: `${own}.undelivered`, id, params };
    // Throws unless the backend took it: the outbox keeps the answer and tries again (bounded).
    const response = await host().toBackend(notice, this.scope());
    if (response?.error) throw new Error(`the backend refused the notice: ${response.error.message}`);
  }

  async sweep(retainMs: number): Promise<void> {
    await this.outbox.expireDue();
    await this.received.purge(retainMs);
  }

  status(id: string): JsonObject | null {
    const queued = this.outbox.get('request', id) ?? this.outbox.get('answer', id);
    if (!queued) return null;
    return {
      kind: queued.kind,
      peer: queued.peer,
      queued_at: new Date(queued.queued).toISOString(),
      expires_at: new Date(queued.expires).toISOString(),
    };
  }

  sizes(): JsonObject {
    const { outbox, received } = this;
    return {
      outbox: { entries: outbox.table.size, bytes: outbox.table.bytes },
      received: { entries: received.table.size, bytes: received.table.bytes },
    };
  }

  updateGauges(): void {
    setOutboxGauges(this.outbox.depths());
  }

  /** The scope of one delivery of ours (a queued message, a hand-over to our backend). */
  scope(): CallScope {
    const { deliveryMs, clock } = this.sides;
    return { deadline: Deadline.after(deliveryMs, clock), cancellation: new Cancellation() };
  }
}
