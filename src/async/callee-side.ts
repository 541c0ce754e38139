/**
 * The callee's half of asynchronous calls: when our backend acknowledges a request, remember who sent it
 * (the authenticated operator, never anything the request says) until its time to live ends; when our
 * application answers with `respond`, carry the answer to that operator on `_respond`, once.
 */
import type { CallScope } from '../core/cancellation.js';
import type { Clock } from '../core/clock.js';
import type { JsonObject, JsonValue } from '../core/json.js';
import { logger } from '../core/log.js';
import type { EpsRequest, EpsResponse } from '../core/messages.js';
import { peerKey, type BoundedTable } from './bounded-table.js';
import { AsyncError, idInUse } from './errors.js';
import type { AsyncHost } from './host.js';
import {
  acknowledgement,
  answerRequest,
  isConfirmation,
  isTryLater,
  normalisedAck,
  parseAnswer,
} from './protocol.js';
import type { PendingRecord } from './records.js';
import type { TtlPolicy } from './ttl.js';

const log = logger('async');

/**
 * Records are keyed by (caller, request id) (bounded-table.ts `peerKey`): each operator's ids are its own,
 * so two callers may have a request pending under the same id; `respond` then names the caller.
 */
export class CalleeSide {
  /** Keys of requests whose answer is on its way (a second `respond` meanwhile is refused). */
  private readonly answering = new Set<string>();

  constructor(
    readonly table: BoundedTable<PendingRecord>,
    private readonly ttl: TtlPolicy,
    private readonly clock: Clock,
    private readonly host: () => AsyncHost,
    /** Queues an answer for a caller that cannot be reached now (async/outbox.ts). */
    private readonly enqueue: (
      caller: string,
      ref: string,
      request: EpsRequest,
      expires: number,
    ) => Promise<void>,
  ) {
    this.countedUntil = clock.now();
  }

  /** Expiries up to this time have been counted (eps_async_expired_total{side="callee"}). */
  private countedUntil: number;

  /**
   * Before delivering to our backend: the caller of a request that waits for an answer may not reuse its
   * id meanwhile. Other callers are not refused: their ids are theirs (a synchronous call from anyone, an
   * original node included, must not fail or learn that the id exists).
   */
  refuseIfPending(id: string, caller: string): void {
    if (this.waiting(id, caller)) throw idInUse(id);
  }

  private waiting(id: string, caller: string): PendingRecord | undefined {
    const record = this.table.get(peerKey(caller, id));
    return record && !record.answered && record.expires > this.clock.now() ? record : undefined;
  }

  /** After our backend answered: an acknowledgement makes the request pending. */
  async onBackendAnswer(
    id: string,
    caller: string,
    method: string,
    response: EpsResponse | null,
  ): Promise<EpsResponse | null> {
    const ack = response && !response.error ? acknowledgement(response.result) : undefined;
    if (!ack || !response?.result) return response;
    const ttlSeconds = this.ttl.seconds(ack.ttlSeconds);
    try {
      const expires = this.clock.now() + ttlSeconds * 1000;
      await this.table.put(peerKey(caller, id), { peer: caller, method, expires });
    } catch (e) {
      if (!(e instanceof AsyncError)) throw e;
      log.warn('acknowledged request cannot be kept pending', { id, caller, error: e.message });
      return e.toResponse(id);
    }
    log.info('request acknowledged, answer pending', { id, caller, ttl_s: ttlSeconds });
    return { ...response, result: normalisedAck(response.result, id, ttlSeconds) };
  }

  /**
   * The record `respond` means: the one of `params.caller` when named; else the only caller waiting
   * under `id` (with none waiting, any record under `id`, for a clear error). Several waiting callers
   * and no `caller`: ERR_ASYNC_INVALID asking for one.
   */
  private answered(id: string, named: JsonValue | undefined): PendingRecord | undefined {
    if (named !== undefined) {
      if (typeof named !== 'string')
        throw new AsyncError('ERR_ASYNC_INVALID', 'params.caller must be an operator name');
      return this.table.get(peerKey(named, id));
    }
    const all = this.recordsOf(id);
    const live = all.filter((r) => !r.answered && r.expires > this.clock.now());
    if (live.length > 1)
      throw new AsyncError(
        'ERR_ASYNC_INVALID',
        `requests of several operators wait under ${id} (${live.map((r) => r.peer).join(', ')}); ` +
          'name the one answered in params.caller (the _client.name the request carried)',
      );
    return live[0] ?? all[0];
  }

  /** Every record under request id `id`, one per caller. */
  private recordsOf(id: string): PendingRecord[] {
    const out: PendingRecord[] = [];
    for (const peer of this.table.peerNames()) {
      const record = this.table.get(peerKey(peer, id));
      if (record) out.push(record);
    }
    return out;
  }

  /** `respond` from our application: the id exactly as our backend received it, and the answer. */
  async respond(id: JsonValue | undefined, params: JsonObject, scope: CallScope): Promise<EpsResponse> {
    if (typeof id !== 'string' || id === '')
      throw new AsyncError(
        'ERR_ASYNC_INVALID',
        'respond needs the request id exactly as received (a string)',
      );
    const answer = parseAnswer(params);
    const record = this.answered(id, params.caller);
    if (!record) throw new AsyncError('ERR_ASYNC_UNKNOWN_ID', `no request ${id} is waiting for an answer`);
    const key = peerKey(record.peer, id);
    if (record.answered || this.answering.has(key))
      throw new AsyncError('ERR_ASYNC_ALREADY_ANSWERED', `request ${id} has been answered already`);
    if (record.expires <= this.clock.now())
      throw new AsyncError('ERR_ASYNC_EXPIRED', `request ${id} expired before the answer`);
    this.answering.add(key);
    try {
      const request = answerRequest(record.peer, id, answer);
      const { response, unreachable } = await this.host().send(request, scope);
      if (unreachable || isTryLater(response)) {
        // Queued first: once the record says answered, a second `respond` is refused.
        await this.enqueue(record.peer, id, answerRequest(record.peer, id, answer), record.expires);
        await this.table.update(key, { ...record, answered: true, queued: true });
        return { id, result: { delivered: false, queued: true, caller: record.peer } };
      }
      if (!isConfirmation(response)) {
        const why = response?.error?.message ?? 'no confirmation (a node without asynchronous calls?)';
        throw new AsyncError(
          'ERR_ASYNC_NOT_CONFIRMED',
          `${record.peer} did not accept the answer to ${id}: ${why}`,
        );
      }
      await this.table.update(key, { ...record, answered: true });
      log.info('answer delivered to the caller', { id, caller: record.peer });
      return { id, result: { delivered: true, caller: record.peer } };
    } finally {
      this.answering.delete(key);
    }
  }

  /** A queued answer reached the caller's eps (confirmed or refused): no longer queued. */
  async answerSent(caller: string, id: string): Promise<void> {
    const key = peerKey(caller, id);
    const record = this.table.get(key);
    if (!record?.queued) return;
    const { queued: _done, ...rest } = record;
    await this.table.update(key, rest);
  }

  /**
   * The state of one request, for `_status`: the caller's when named, else the only one under `id`;
   * several callers under `id` and none named: `{state: "several", callers}`.
   */
  status(id: string, caller?: JsonValue): JsonObject | null {
    const all = typeof caller === 'string' ? [this.table.get(peerKey(caller, id))] : this.recordsOf(id);
    const [record, ...more] = all;
    if (more.length > 0) return { state: 'several', callers: all.map((r) => r?.peer ?? null) };
    if (!record) return null;
    // An answer still queued when the time to live ends is never delivered (`undelivered` notice).
    const over = record.expires <= this.clock.now();
    const state =
      record.queued && !over
        ? 'answer_queued'
        : record.answered && !record.queued
          ? 'answered'
          : over
            ? 'expired'
            : 'pending';
    return {
      state,
      caller: record.peer,
      method: record.method,
      expires_at: new Date(record.expires).toISOString(),
    };
  }

  /**
   * Requests whose time to live ended unanswered since the last call (each counted once; the first call
   * counts from when this eps started).
   */
  expiredSince(): number {
    const now = this.clock.now();
    let n = 0;
    for (const [, row] of this.table.entries()) {
      const r = row.value;
      if (!r.answered && r.expires > this.countedUntil && r.expires <= now) n++;
    }
    this.countedUntil = now;
    return n;
  }

  /** Forgets records whose time to live ended more than `retainMs` ago; returns how many. */
  async purge(retainMs: number): Promise<number> {
    const before = this.clock.now() - retainMs;
    const old = [...this.table.entries()].filter(([, row]) => row.value.expires < before).map(([k]) => k);
    for (const key of old) await this.table.delete(key);
    return old.length;
  }
}
