/**
 * The working parts of asynchronous calls over one loaded copy of the tables (async-calls.ts builds them
 * again each time this instance becomes active): the callee side, the caller side and store-and-forward,
 * each over bounded tables in the given stores.
 */
import type { Clock } from '../core/clock.js';
import type { JsonObject } from '../core/json.js';
import { BoundedTable, type PeerRecord, type TableLimits } from './bounded-table.js';
import { CalleeSide } from './callee-side.js';
import { CallerSide } from './caller-side.js';
import type { AsyncHost } from './host.js';
import type { OutboxSettings } from './outbox.js';
import { decodeAwaited, decodeOutbox, decodePending, decodeReceived } from './records.js';
import { StoreAndForward } from './store-and-forward.js';
import type { TableStore } from './table-store.js';
import { TtlPolicy } from './ttl.js';

/** The settings the parts use (of the settled `async` settings, async-calls.ts). */
export interface PartsSettings extends TableLimits {
  /** Seconds an acknowledged request waits for its answer when the acknowledgement names no `ttl`. */
  default_ttl: number;
  /** Upper bound of any time to live, in seconds. */
  max_ttl: number;
  /** Seconds allowed for one delivery attempt (a queued message, an expiry to our backend). */
  delivery_timeout: number;
  outbox: OutboxSettings;
}

export type TableName = 'pending' | 'awaited' | 'outbox' | 'received';

export interface Parts {
  callee: CalleeSide;
  caller: CallerSide;
  forwarding: StoreAndForward;
}

/** New, empty tables over `stores` and the sides working on them; the outbox sends only while `writable`. */
export function buildParts(
  stores: Record<TableName, TableStore>,
  settings: PartsSettings,
  clock: Clock,
  links: { host: () => AsyncHost; writable: () => boolean },
): Parts {
  const ttl = new TtlPolicy(settings.default_ttl, settings.max_ttl);
  const table = <V extends PeerRecord>(name: TableName, decode: (s: JsonObject) => V | undefined) =>
    new BoundedTable(name, stores[name], settings, decode);
  const deliveryMs = settings.delivery_timeout * 1000;
  const callee: CalleeSide = new CalleeSide(
    table('pending', decodePending),
    ttl,
    clock,
    links.host,
    (peer, ref, request, expires) => forwarding.outbox.add('answer', ref, peer, request, expires),
  );
  const caller = new CallerSide(table('awaited', decodeAwaited), ttl, clock, links.host, deliveryMs);
  const forwarding: StoreAndForward = new StoreAndForward(
    { outbox: table('outbox', decodeOutbox), received: table('received', decodeReceived) },
    settings.outbox,
    { callee, caller, ttl, clock, host: links.host, deliveryMs, writable: links.writable },
  );
  return { callee, caller, forwarding };
}
