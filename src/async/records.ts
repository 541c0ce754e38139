/** The records of the two tables of asynchronous calls, as stored (JSON) and read back (checked). */
import { isJsonObject, type JsonObject } from '../core/json.js';
import type { PeerRecord } from './bounded-table.js';

/** Callee side: a request our backend acknowledged; `peer` is the authenticated caller operator. */
export interface PendingRecord extends PeerRecord {
  /** The method field of the request, e.g. `ls-1.locate`. */
  method: string;
  /** When the time to live ends (ms since the epoch). */
  expires: number;
  /** The answer was delivered to the caller's eps (kept until `expires` to refuse a second answer). */
  answered?: true;
  /** The answer waits in the outbox (the caller's eps has not been reached yet). */
  queued?: true;
}

/** Caller side: a request another operator (`peer`) acknowledged, whose answer our backend awaits. */
export interface AwaitedRecord extends PeerRecord {
  expires: number;
  /** The answer (or its expiry) was handed to our backend; kept to drop repeated deliveries. */
  done?: true;
  /** What our backend got was the expiry error (a late answer is refused, not confirmed). */
  expired?: true;
  /** The request itself waits in the outbox: the callee has not been reached yet. */
  queued?: true;
  /**
   * An answer (or expiry) was being handed to our backend and `done` is not written yet: whether the
   * backend got it is unknown (a crash, a failed hand-over), so the next hand-over says `redelivered`.
   */
  handing?: true;
}

export function decodePending(stored: JsonObject): PendingRecord | undefined {
  const { peer, method, expires, answered, queued } = stored;
  if (typeof peer !== 'string' || typeof method !== 'string' || typeof expires !== 'number') return undefined;
  return {
    peer,
    method,
    expires,
    ...(answered === true ? { answered } : {}),
    ...(queued === true ? { queued } : {}),
  };
}

export function decodeAwaited(stored: JsonObject): AwaitedRecord | undefined {
  const { peer, expires, done, expired, queued, handing } = stored;
  if (typeof peer !== 'string' || typeof expires !== 'number') return undefined;
  return {
    peer,
    expires,
    ...(done === true ? { done } : {}),
    ...(expired === true ? { expired } : {}),
    ...(queued === true ? { queued } : {}),
    ...(handing === true ? { handing } : {}),
  };
}

/**
 * Outbox (store and forward): a request of our application or an answer of our application that could
 * not reach `peer` yet. `request` is what is sent again, unchanged, on every attempt.
 */
export interface OutboxRecord extends PeerRecord {
  kind: 'request' | 'answer';
  /** The request (method, addressed id, params without `_client`/`_caller`) sent on every attempt. */
  request: { method: string; id: string; params: JsonObject };
  /** When it was queued and when its time to live ends (ms since the epoch). */
  queued: number;
  expires: number;
  /**
   * An answer that will never be delivered (expired, or refused by the caller's eps): no longer sent; kept
   * until our backend took the `undelivered` notice with this error (bounded retries).
   */
  failed?: { code: string; message: string };
}

/** Callee side: a request marked asynchronous that reached us, and the answer our backend gave to it. */
export interface ReceivedRecord extends PeerRecord {
  expires: number;
  /** With our backend, no answer kept yet (also what a crash leaves behind). */
  taken?: true;
  /** Absent while (or if a crash left it) with our backend. */
  response?: JsonObject;
  /**
   * The backend answered, but the answer was too large to keep for repeats: a repeat gets
   * ERR_ASYNC_NOT_KEPT instead of reaching the backend again. Smaller than a `taken` record, so that
   * replacing one by the other never passes a bound.
   */
  lost?: true;
}

export function decodeOutbox(stored: JsonObject): OutboxRecord | undefined {
  const { peer, kind, request, queued, expires, failed } = stored;
  if (typeof peer !== 'string' || (kind !== 'request' && kind !== 'answer')) return undefined;
  if (typeof queued !== 'number' || typeof expires !== 'number' || !isJsonObject(request)) return undefined;
  const { method, id, params } = request;
  if (typeof method !== 'string' || typeof id !== 'string' || !isJsonObject(params)) return undefined;
  const record: OutboxRecord = { peer, kind, request: { method, id, params }, queued, expires };
  if (isJsonObject(failed) && typeof failed.code === 'string' && typeof failed.message === 'string')
    record.failed = { code: failed.code, message: failed.message };
  return record;
}

export function decodeReceived(stored: JsonObject): ReceivedRecord | undefined {
  const { peer, expires, response, taken, lost } = stored;
  if (typeof peer !== 'string' || typeof expires !== 'number') return undefined;
  return {
    peer,
    expires,
    ...(taken === true ? { taken } : {}),
    ...(isJsonObject(response) ? { response } : {}),
    ...(lost === true ? { lost } : {}),
  };
}
