/**
 * The caller's half of asynchronous calls: when another operator acknowledges a request our application
 * sent, await its answer until the time to live ends; an answer arriving on `_respond` is accepted only
 * from the operator the request was addressed to, handed to our backend as `respond` with the
 * application's original id, once (repeats are confirmed and dropped); at expiry our backend receives
 * `respond` with an error instead.
 */
import { InvalidAddressError, parseAddress } from '../core/address.js';
import { Deadline } from '../core/deadline.js';
import { Cancellation, type CallScope } from '../core/cancellation.js';
import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { JsonObject } from '../core/json.js';
import { logger } from '../core/log.js';
import { ErrorCodes, type EpsRequest, type EpsResponse } from '../core/messages.js';
import { denormaliseId } from '../jsonrpc/ids.js';
import { unwrapValue } from '../jsonrpc/client.js';
import type { BoundedTable, Reservation } from './bounded-table.js';
import { AsyncError, idInUse } from './errors.js';
import type { AsyncHost } from './host.js';
import {
  acknowledgement,
  confirmation,
  parseAnswer,
  RESPOND_METHOD,
  tryLater,
  type Answer,
} from './protocol.js';
import { HandOverRetries, inParallel, SWEEP_CONCURRENCY } from './hand-over-retry.js';
import { noticesDropped } from './metrics.js';
import type { AwaitedRecord } from './records.js';
import type { TtlPolicy } from './ttl.js';

const log = logger('async');

export class CallerSide {
  /** Ids whose answer is being handed to our backend right now. */
  private readonly delivering = new Set<string>();
  /** Ids whose awaited record is being added now (a second request under the id is refused). */
  private readonly recording = new Set<string>();
  /** Expiries our backend did not take yet. */
  private readonly retries: HandOverRetries;

  constructor(
    readonly table: BoundedTable<AwaitedRecord>,
    private readonly ttl: TtlPolicy,
    private readonly clock: Clock,
    private readonly host: () => AsyncHost,
    private readonly deliveryTimeoutMs: number,
  ) {
    this.retries = new HandOverRetries(clock);
  }

  /**
   * Before a request of our application goes out: refused (ERR_ASYNC_ID_IN_USE) while a request of ours
   * under the same id awaits its answer, waits in the outbox or is being recorded (a second awaited
   * record would replace the first: its answer would reach the wrong request, a queued one be lost).
   */
  refuseIfAwaited(id: string): void {
    const record = this.table.get(id);
    if (this.recording.has(id) || (record && !record.done)) throw idInUse(id);
  }

  /**
   * Room for the awaited record of a marked request to `callee`, held while the request is sent (so that
   * the callee never holds an acknowledged request we cannot record); ERR_ASYNC_FULL when there is none.
   */
  reserve(id: string, callee: string): Reservation {
    return this.table.reserve(id, { peer: callee, expires: this.clock.now(), queued: true });
  }

  /** Runs `write`, which adds the awaited record of `id`, unless the id is in use (refuseIfAwaited). */
  async recordNew<T>(id: string, write: () => Promise<T>): Promise<T> {
    this.refuseIfAwaited(id);
    this.recording.add(id);
    try {
      return await write();
    } finally {
      this.recording.delete(id);
    }
  }

  /**
   * After another operator answered our application's request: an acknowledgement makes us await.
   * `reservation` (from `reserve`) is the room of the record.
   */
  async onPeerAnswer(
    id: string,
    callee: string,
    response: EpsResponse | null,
    reservation?: Reservation,
  ): Promise<EpsResponse | null> {
    const ack = response && !response.error ? acknowledgement(response.result) : undefined;
    if (!ack) return response;
    const ttlSeconds = this.ttl.seconds(ack.ttlSeconds);
    const expires = this.clock.now() + ttlSeconds * 1000;
    try {
      await this.recordNew(id, () => this.table.put(id, { peer: callee, expires }, reservation));
    } catch (e) {
      if (!(e instanceof AsyncError)) throw e;
      log.warn('acknowledged request cannot be awaited', { id, callee, error: e.message });
      return e.toResponse(id);
    }
    log.info('request acknowledged by the callee, awaiting the answer', { id, callee, ttl_s: ttlSeconds });
    return response;
  }

  /** The callee acknowledged a request of ours that waited in the outbox: its answer is awaited now. */
  async onQueuedAcknowledged(id: string, callee: string, ttlAsked: number | undefined): Promise<void> {
    const ttlSeconds = this.ttl.seconds(ttlAsked);
    await this.table.update(id, { peer: callee, expires: this.clock.now() + ttlSeconds * 1000 });
    log.info('queued request acknowledged by the callee, awaiting the answer', {
      id,
      callee,
      ttl_s: ttlSeconds,
    });
  }

  /** `_respond` from `sender` (authenticated by the transport). */
  async receiveAnswer(request: EpsRequest, sender: string): Promise<EpsResponse> {
    const id = request.params.id;
    if (typeof id !== 'string') throw new AsyncError('ERR_ASYNC_INVALID', 'params.id must be a string');
    let callee: string;
    let localId: string;
    try {
      ({ operator: callee, localId } = parseAddress(id));
    } catch (e) {
      if (e instanceof InvalidAddressError)
        throw new AsyncError('ERR_ASYNC_INVALID', `invalid request id ${id}`);
      throw e;
    }
    if (callee !== sender)
      throw new AsyncError(
        'ERR_ASYNC_NOT_RECIPIENT',
        `${sender} may not answer ${id}: it was sent to ${callee}`,
      );
    const answer = parseAnswer(request.params);
    const record = this.table.get(id);
    if (!record || record.peer !== sender)
      throw new AsyncError('ERR_ASYNC_UNKNOWN_ID', `no request ${id} is awaiting an answer`);
    if (record.expired)
      throw new AsyncError('ERR_ASYNC_EXPIRED', `request ${id} expired before the answer arrived`);
    if (record.done) {
      log.info('repeated answer dropped', { id, callee });
      return confirmation(request.id, true);
    }
    if (record.expires <= this.clock.now())
      throw new AsyncError('ERR_ASYNC_EXPIRED', `request ${id} expired before the answer arrived`);
    if (this.delivering.has(id))
      // The first copy is still with our backend: whether it takes it is not known yet.
      return tryLater(request.id, `an answer to ${id} is being handed to the backend; try again later`);
    this.delivering.add(id);
    try {
      const client = request.params._client;
      try {
        const extra: JsonObject = client === undefined ? {} : { _client: client };
        // The hand-over is ours from here on: the sender leaving (its eps killed, its deadline passed)
        // must not withdraw an answer our backend may already act on; it ends within delivery_timeout,
        // and the sender's repeat is then confirmed as a duplicate (or told to try later meanwhile).
        await this.handOver(id, record, localId, answer, extra, this.ownScope());
      } catch (e) {
        if (e instanceof AsyncError) throw e;
        // Our backend cannot be reached now: the answering node keeps the answer and sends it again.
        log.warn('answer not handed to the backend; the sender is asked to retry', {
          id,
          error: errorMessage(e),
        });
        return tryLater(
          request.id,
          `the backend of ${this.host().ownName} cannot be reached; try again later`,
        );
      }
      await this.table.update(id, { ...settled(record), done: true });
      log.info('answer handed to the backend', { id, callee });
      return confirmation(request.id, false);
    } finally {
      this.delivering.delete(id);
    }
  }

  /**
   * The callee answered a queued request (async/outbox.ts) with a result or an error instead of an
   * acknowledgement: our backend receives it as `respond`, once. Throws (the request stays queued and the
   * callee's repeat memory answers it again) when the backend does not take it.
   */
  async settleQueued(
    id: string,
    callee: string,
    response: EpsResponse | null,
    scope: CallScope,
  ): Promise<void> {
    const record = this.table.get(id);
    if (!record || record.done || this.delivering.has(id)) return;
    const answer: Answer = response?.error
      ? { error: { ...response.error, data: unwrapValue(response.error.data ?? undefined) } }
      : { result: unwrapValue(response?.result) ?? null };
    this.delivering.add(id);
    try {
      await this.handOver(id, record, parseAddress(id).localId, answer, {}, scope);
      await this.table.update(id, { peer: callee, expires: record.expires, done: true });
      log.info('answer to a queued request handed to the backend', { id, callee });
    } finally {
      this.delivering.delete(id);
    }
  }

  /**
   * Requests whose time to live ended unanswered: our backend gets `respond` with an error, once. In
   * parallel (SWEEP_CONCURRENCY at a time, each within the delivery timeout); a refused or failed
   * hand-over is retried with its own backoff and given up after bounded attempts (hand-over-retry.ts).
   */
  async expireDue(): Promise<number> {
    const now = this.clock.now();
    const due = [...this.table.entries()].filter(
      ([id, row]) =>
        !row.value.done && row.value.expires <= now && !this.delivering.has(id) && this.retries.due(id),
    );
    let expired = 0;
    await inParallel(due, SWEEP_CONCURRENCY, async ([id, row]) => {
      if (await this.expire(id, row.value)) expired++;
    });
    return expired;
  }

  private async expire(id: string, record: AwaitedRecord): Promise<boolean> {
    const { operator, localId } = parseAddress(id);
    const error = record.queued
      ? {
          code: ErrorCodes.unavailable,
          message: `${operator} could not be reached within the time to live of ${id}`,
          data: { code: 'ERR_ASYNC_UNDELIVERED' },
        }
      : {
          code: ErrorCodes.notFound,
          message: `no answer from ${operator} to ${id} within its time to live`,
          data: { code: 'ERR_ASYNC_EXPIRED' },
        };
    this.delivering.add(id);
    try {
      await this.handOver(id, record, localId, { error }, {}, this.ownScope());
      this.retries.done(id);
      await this.table.update(id, { ...settled(this.table.get(id) ?? record), done: true, expired: true });
      log.warn('asynchronous request expired unanswered', { id, callee: operator });
      return true;
    } catch (e) {
      if (this.retries.failed(id, record.expires)) {
        log.warn('expiry of an asynchronous request not delivered yet; retried', {
          id,
          attempts: this.retries.attempts(id),
          error: errorMessage(e),
        });
        return false;
      }
      // Given up: recorded as expired (a late answer is refused), so that it stops here.
      log.error('expiry never taken by the backend; given up', { id, error: errorMessage(e) });
      noticesDropped.inc({ kind: 'expiry' });
      await this.table.update(id, { ...settled(this.table.get(id) ?? record), done: true, expired: true });
      return true;
    } finally {
      this.delivering.delete(id);
    }
  }

  /** The scope of a hand-over this eps owns: cancelled by nobody, ended by `delivery_timeout`. */
  private ownScope(): CallScope {
    return { deadline: Deadline.after(this.deliveryTimeoutMs, this.clock), cancellation: new Cancellation() };
  }

  status(id: string): JsonObject | null {
    const record = this.table.get(id);
    if (!record) return null;
    const state = record.queued
      ? 'queued'
      : record.expired
        ? 'expired'
        : record.done
          ? 'done'
          : record.expires <= this.clock.now()
            ? 'expired'
            : 'awaiting';
    return { state, callee: record.peer, expires_at: new Date(record.expires).toISOString() };
  }

  async purge(retainMs: number): Promise<number> {
    const before = this.clock.now() - retainMs;
    const old = [...this.table.entries()]
      .filter(([, row]) => row.value.done && row.value.expires < before)
      .map(([id]) => id);
    for (const id of old) await this.table.delete(id);
    return old.length;
  }

  /**
   * `respond` to our backend, with the id our application used; throws unless the backend took it. A
   * durable `handing` mark is written first: if this eps dies before `done` is written, the hand-over
   * after the restart carries `"redelivered": true` (so does one after a failed hand-over, which the
   * backend may or may not have seen).
   */
  private async handOver(
    id: string,
    record: AwaitedRecord,
    localId: string,
    answer: Answer,
    extra: JsonObject,
    scope: CallScope,
  ): Promise<void> {
    const current = this.table.get(id) ?? record;
    if (!current.handing)
      await this.table.update(id, { ...current, handing: true }).catch((e: unknown) => {
        // Not an answer to refuse: the hand-over is tried again later (the sender keeps the answer).
        throw new Error(`the hand-over of ${id} cannot be marked: ${errorMessage(e)}`);
      });
    const own = this.host().ownName;
    const request: EpsRequest = {
      method: `${own}.${RESPOND_METHOD}`,
      id,
      jsonRpcId: denormaliseId(localId),
      params: {
        ...(answer as JsonObject),
        request: id,
        ...extra,
        ...(current.handing ? { redelivered: true } : {}),
      },
    };
    const response = await this.host().toBackend(request, scope);
    if (response?.error)
      throw new AsyncError(
        'ERR_ASYNC_NOT_CONFIRMED',
        `the backend of ${own} refused the answer to ${id}: ${response.error.message}`,
      );
  }
}

/** A record whose answer reached our backend: neither queued nor being handed over any more. */
function settled(record: AwaitedRecord): AwaitedRecord {
  const { queued: _queued, handing: _handing, ...rest } = record;
  return rest;
}
