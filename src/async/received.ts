/**
 * The callee's memory of requests marked asynchronous (`_async` in params; docs/protocol.md#store-and-
 * forward): a caller's outbox sends such a request again until it gets an answer, so the same request id
 * from the same operator may arrive more than once. The first arrival is recorded (`received` table) and
 * goes to our backend; a repeat gets the answer the backend gave (an acknowledgement, a result or an
 * error; kept until the caller stops sending), and never reaches the backend a second time. Records are
 * keyed by (authenticated caller, request id): another operator sending the same id reaches a record of
 * its own, never reads, replaces or forgets the first caller's.
 */
import type { Clock } from '../core/clock.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../core/json.js';
import { logger } from '../core/log.js';
import type { EpsResponse } from '../core/messages.js';
import { peerKey, type BoundedTable } from './bounded-table.js';
import { AsyncError } from './errors.js';
import { ACK_KEY, forPeer, tryLater } from './protocol.js';
import type { PendingRecord, ReceivedRecord } from './records.js';
import type { TtlPolicy } from './ttl.js';

const log = logger('async');

/** Whether a request's params mark it asynchronous (`"_async": true` or `{"ttl": seconds}`). */
export function markedAsync(params: JsonObject): boolean {
  return params[ACK_KEY] === true || isJsonObject(params[ACK_KEY]);
}

/** The time to live a marked request asks for, in seconds (undefined: none named). */
export function askedTtl(params: JsonObject): number | undefined {
  const mark: JsonValue | undefined = params[ACK_KEY];
  const ttl = isJsonObject(mark) ? mark.ttl : undefined;
  return typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0 ? ttl : undefined;
}

export class Received {
  /** Marked requests with our backend right now (by peerKey). */
  private readonly inFlight = new Set<string>();

  constructor(
    readonly table: BoundedTable<ReceivedRecord>,
    private readonly pending: BoundedTable<PendingRecord>,
    private readonly ttl: TtlPolicy,
    private readonly clock: Clock,
  ) {}

  /**
   * Before a marked request from `caller` goes to our backend: undefined = deliver it (its arrival is
   * recorded first); otherwise the answer for a repeat. A request whose first delivery was cut short by a
   * crash of this eps (recorded, never answered) is delivered again with `"redelivered": true` in its
   * `_async`, so that the backend knows it may have seen it.
   */
  async begin(id: string, caller: string, params: JsonObject): Promise<EpsResponse | undefined> {
    const key = peerKey(caller, id);
    const seen = this.table.get(key);
    if (seen) {
      if (seen.lost) {
        log.warn('repeated request whose answer was too large to keep; not delivered again', { id, caller });
        return new AsyncError(
          'ERR_ASYNC_NOT_KEPT',
          `the callee answered ${id} once; the answer was too large to keep for a repeat, ` +
            'and the request is not delivered again',
        ).toResponse(id);
      }
      if (seen.response) {
        log.info('repeated request answered from memory, not delivered again', { id, caller });
        return { ...(seen.response as unknown as EpsResponse), id };
      }
      if (this.inFlight.has(key)) {
        log.info('repeated request while the first is with the backend', { id, caller });
        return tryLater(id, `request ${id} is with the backend of the callee; try again later`);
      }
      const acked = this.pending.get(key);
      if (acked) {
        // Our backend acknowledged it before the restart; only the memory of the answer was lost.
        const ttl = Math.max(1, Math.ceil((acked.expires - this.clock.now()) / 1000));
        const response: EpsResponse = { id, result: { [ACK_KEY]: { ttl, request: id } } };
        await this.finish(id, caller, response);
        return response;
      }
      log.warn('request whose delivery a restart cut short is delivered again', { id, caller });
      const mark = params[ACK_KEY];
      params[ACK_KEY] = { ...(isJsonObject(mark) ? mark : {}), redelivered: true };
    }
    const expires = this.clock.now() + this.ttl.seconds(askedTtl(params)) * 1000;
    try {
      await this.table.put(key, { peer: caller, expires, taken: true });
    } catch (e) {
      if (!(e instanceof AsyncError)) throw e;
      log.warn('marked request refused: its arrival cannot be recorded', { id, caller, error: e.message });
      return forPeer(e.toResponse(id)); // standby: the sender keeps it
    }
    this.inFlight.add(key);
    return undefined;
  }

  /** After our backend answered a marked request (begin returned undefined): the answer for repeats. */
  async finish(id: string, caller: string, response: EpsResponse | null): Promise<void> {
    const key = peerKey(caller, id);
    this.inFlight.delete(key);
    const record = this.table.get(key);
    if (!record || !response) return;
    const { taken: _taken, ...kept } = record;
    try {
      await this.table.put(key, { ...kept, response: response as unknown as JsonObject });
    } catch (e) {
      if (!(e instanceof AsyncError)) throw e;
      if (e.code !== 'ERR_ASYNC_FULL') {
        // Standby meanwhile, or the store did not take it: nothing kept here; a repeat (to the active
        // instance) finds the arrival recorded and is delivered again, marked `redelivered`.
        log.warn('answer to a marked request not kept: the store refused it', { id, error: e.message });
        return;
      }
      // Too large to keep: remember that it was answered (a record smaller than the one it replaces, so
      // it always fits), so that a repeat gets a clear error instead of reaching the backend again.
      log.warn('answer to a marked request too large to keep; a repeat gets ERR_ASYNC_NOT_KEPT', {
        id,
        error: e.message,
      });
      await this.table.put(key, { peer: record.peer, expires: record.expires, lost: true });
    }
  }

  /** A marked request that may or may not have reached our backend: a repeat is marked `redelivered`. */
  unfinished(id: string, caller: string): void {
    this.inFlight.delete(peerKey(caller, id));
  }

  /** A marked request that did not reach our backend after all: a repeat is a first arrival again. */
  async abandon(id: string, caller: string): Promise<void> {
    const key = peerKey(caller, id);
    this.inFlight.delete(key);
    await this.table.delete(key);
  }

  /** Forgets answers `retainMs` after the caller stopped sending repeats. */
  async purge(retainMs: number): Promise<number> {
    const before = this.clock.now() - retainMs;
    const old = [...this.table.entries()]
      .filter(([key, row]) => row.value.expires < before && !this.inFlight.has(key))
      .map(([key]) => key);
    for (const key of old) await this.table.delete(key);
    return old.length;
  }
}
