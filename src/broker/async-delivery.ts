/**
 * What the broker does around delivery for asynchronous calls (docs/protocol.md#asynchronous-calls): a
 * request is admitted (ids in use refused, room for a marked request's awaited record held), an
 * acknowledgement on the way back is recorded (pending at the callee, awaited at the caller), a marked
 * request of our application whose callee cannot be reached is queued, and a marked request from another
 * operator is delivered to our backend once (repeats answered from memory).
 */
import type { Address } from '../core/address.js';
import type { EpsRequest, EpsResponse } from '../core/messages.js';
import { logger } from '../core/log.js';
import type { AsyncCalls } from '../async/async-calls.js';
import type { Reservation } from '../async/bounded-table.js';
import { AsyncError } from '../async/errors.js';
import { forPeer, isTryLater, tryLater } from '../async/protocol.js';
import { markedAsync } from '../async/received.js';
import type { CallScope } from './channel.js';

const log = logger('broker');

/** The broker's delivery, as this needs it. */
export interface DeliveryPath {
  /** Hands the request to the first channel that can deliver it. */
  toChannel(request: EpsRequest, address: Address, scope: CallScope): Promise<EpsResponse | null>;
  /** Whether `response` is a channel's failure to reach the next hop (the outbox may keep the request). */
  unreachable(response: EpsResponse): boolean;
}

export class AsyncDelivery {
  constructor(
    private readonly ownName: string,
    private readonly async: AsyncCalls,
    private readonly via: DeliveryPath,
  ) {}

  /**
   * Delivers; an acknowledgement on the way back makes the request pending (callee) or awaited (caller).
   * A request of our application marked asynchronous (`_async`) whose callee cannot be reached is queued
   * (async/store-and-forward.ts).
   */
  async deliver(
    request: EpsRequest,
    address: Address,
    caller: string,
    scope: CallScope,
  ): Promise<EpsResponse | null> {
    const marked = markedAsync(request.params);
    const toUs = address.operator === this.ownName;
    // A standby instance (another holds the store): marked requests are refused (async-calls.ts `refusal`).
    const standby = this.async.refusal(request.id, marked, caller !== this.ownName, toUs);
    if (standby) return standby;
    if (toUs && marked && caller !== this.ownName) return this.deliverMarked(request, address, caller);
    let reservation: Reservation | undefined;
    try {
      reservation = this.async.admit(request.id, caller, address.operator, marked);
    } catch (e) {
      if (e instanceof AsyncError) return e.toResponse(request.id);
      throw e;
    }
    try {
      return await this.deliverNotingAcks(request, address, caller, scope, reservation);
    } finally {
      reservation?.release();
    }
  }

  /** `deliver` once admitted; `reservation` is the room of a marked request's awaited record. */
  private async deliverNotingAcks(
    request: EpsRequest,
    address: Address,
    caller: string,
    scope: CallScope,
    reservation: Reservation | undefined,
  ): Promise<EpsResponse | null> {
    const toUs = address.operator === this.ownName;
    const fromPeer = caller !== this.ownName;
    const queueable = markedAsync(request.params) && !toUs && !fromPeer; // queued when unreachable
    if (queueable && this.async.forwarding.outbox.waiting(address.operator) > 0) {
      // The callee is known to be unreachable: join its queue (in order, no dial of our own).
      log.info('marked request joins the queue of an unreachable callee', { id: request.id });
      return this.async.forwarding.queueRequest(request, address.operator, reservation);
    }
    let response = await this.via.toChannel(
      request,
      address,
      queueable ? { ...scope, failFast: true } : scope,
    );
    if (toUs)
      response = await this.async.callee.onBackendAnswer(request.id, caller, request.method, response);
    if (!fromPeer) {
      const queue =
        queueable && response !== null && (this.via.unreachable(response) || isTryLater(response));
      if (queue && !scope.deadline.expired && !scope.cancellation.reason) {
        log.info('callee unreachable; marked request queued', {
          id: request.id,
          cause: response?.error?.message,
        });
        return this.async.forwarding.queueRequest(request, address.operator, reservation);
      }
      response = await this.async.caller.onPeerAnswer(request.id, address.operator, response, reservation);
    }
    return response;
  }

  /**
   * A marked request from another operator for our backend: a repeat is answered from memory
   * (async/received.ts); a first arrival is delivered in a scope of its own, so that the answer is kept for
   * the repeat even when the sender went away meanwhile.
   */
  private async deliverMarked(
    request: EpsRequest,
    address: Address,
    caller: string,
  ): Promise<EpsResponse | null> {
    const received = this.async.forwarding.received;
    const repeat = await received.begin(request.id, caller, request.params);
    if (repeat) return repeat;
    let response: EpsResponse | null;
    try {
      this.async.callee.refuseIfPending(request.id, caller);
      response = await this.via.toChannel(request, address, this.async.forwarding.scope());
      if (response && this.via.unreachable(response)) {
        // Our backend cannot be reached: the sender's outbox keeps the request and tries again.
        received.unfinished(request.id, caller);
        return tryLater(request.id, `the backend of ${this.ownName} cannot be reached; try again later`);
      }
      response = await this.async.callee.onBackendAnswer(request.id, caller, request.method, response);
    } catch (e) {
      // Not delivered after all; standby meanwhile, the record stays and a repeat is marked `redelivered`.
      await received.abandon(request.id, caller).catch(() => received.unfinished(request.id, caller));
      if (e instanceof AsyncError) return forPeer(e.toResponse(request.id));
      throw e;
    }
    const refused = forPeer(response);
    if (refused !== response) {
      // Acknowledged by our backend, but the lease was lost before it was recorded: the sender keeps the
      // request and sends it again, to the active instance (marked `redelivered`).
      received.unfinished(request.id, caller);
      return refused;
    }
    await received.finish(request.id, caller, response).catch((e: unknown) => {
      if (!(e instanceof AsyncError)) throw e;
      // Standby meanwhile: the answer goes back but is not remembered; a repeat is marked `redelivered`.
      log.warn('answer to a marked request not remembered', { id: request.id, error: e.message });
    });
    return response;
  }
}
