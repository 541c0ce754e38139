/** The records of the two tables of asynchronous calls, as stored (JSON) and read back (checked). */
import type { JsonObject } from '../core/json.js';
import type { PeerRecord } from './bounded-table.js';

/** Callee side: a request our backend acknowledged; `peer` is the authenticated caller operator. */
export interface PendingRecord extends PeerRecord {
  /** The method field of the request, e.g. `ls-1.locate`. */
  method: string;
  /** When the time to live ends (ms since the epoch). */
  expires: number;
  /** The answer was delivered to the caller's eps (kept until `expires` to refuse a second answer). */
  answered?: true;
}

/** Caller side: a request another operator (`peer`) acknowledged, whose answer our backend awaits. */
export interface AwaitedRecord extends PeerRecord {
  expires: number;
  /** The answer (or its expiry) was handed to our backend; kept to drop repeated deliveries. */
  done?: true;
  /** What our backend got was the expiry error (a late answer is refused, not confirmed). */
  expired?: true;
}

export function decodePending(stored: JsonObject): PendingRecord | undefined {
  const { peer, method, expires, answered } = stored;
  if (typeof peer !== 'string' || typeof method !== 'string' || typeof expires !== 'number') return undefined;
  return { peer, method, expires, ...(answered === true ? { answered } : {}) };
}

export function decodeAwaited(stored: JsonObject): AwaitedRecord | undefined {
  const { peer, expires, done, expired } = stored;
  if (typeof peer !== 'string' || typeof expires !== 'number') return undefined;
  return { peer, expires, ...(done === true ? { done } : {}), ...(expired === true ? { expired } : {}) };
}
