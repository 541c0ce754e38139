/** Keys of the outbox table (async/outbox.ts) and the request a queued message concerns. */
import { peerKey } from './bounded-table.js';
import type { OutboxRecord } from './records.js';

/**
 * A queued request is ours (its id names the callee); a queued answer is keyed by the caller too, since
 * two callers may use the same request id.
 */
export function keyOf(kind: OutboxRecord['kind'], id: string, peer = ''): string {
  return kind === 'request' ? `request ${id}` : `answer ${peerKey(peer, id)}`;
}

/** The key of a stored record (older stores keyed answers by request id alone). */
export function outboxKey(record: OutboxRecord): string {
  return keyOf(record.kind, refOf(record), record.peer);
}

/** The request a queued message concerns: a request's own id, or for an answer the id it answers. */
export function refOf(record: OutboxRecord): string {
  const answered = record.request.params.id;
  return record.kind === 'answer' && typeof answered === 'string' ? answered : record.request.id;
}
