/**
 * One table of asynchronous calls (pending answers, awaited answers): records by key in memory,
 * every change written to a TableStore before it is acknowledged, bounded in entries and bytes in total
 * and per peer. A new record that would pass a bound is refused with ERR_ASYNC_FULL and changes nothing.
 * Each record is charged STATE_SLACK_BYTES more than its size when it is added, so that a later change of
 * its state (`update`: answered, queued, handing over, done) is never refused for room: such a change is
 * written after something was sent or handed over, and must then be recorded.
 */
import type { JsonObject } from '../core/json.js';
import { AsyncError } from './errors.js';
import type { TableStore } from './table-store.js';

/** Settled limits (defaults in settings/eps-schema.ts). */
export interface TableLimits {
  max_entries: number;
  max_bytes: number;
  max_entries_per_peer: number;
  max_bytes_per_peer: number;
}

/** Every record names the other operator it concerns (the per-peer bound counts by it). */
export interface PeerRecord {
  peer: string;
}

interface Row<V> {
  value: V;
  /** What the record is charged against the bounds: its size plus STATE_SLACK_BYTES, or more. */
  bytes: number;
}

/**
 * Bytes each record reserves beyond its size for the flags later state changes add (the largest:
 * `,"answered":true,"queued":true`, 31 bytes; `,"done":true,"expired":true`, 27 bytes).
 */
export const STATE_SLACK_BYTES = 64;

/** Room held for a record about to be added (`reserve`); released when added or given up. */
export interface Reservation {
  release(): void;
}

export class BoundedTable<V extends PeerRecord> {
  private readonly rows = new Map<string, Row<V>>();
  private readonly perPeer = new Map<string, { entries: number; bytes: number }>();
  private totalBytes = 0;
  /** Room reserved for records about to be added, by peer. */
  private readonly reserved = new Map<string, { entries: number; bytes: number }>();

  constructor(
    readonly name: string,
    readonly store: TableStore,
    private readonly limits: TableLimits,
    private readonly decode: (stored: JsonObject) => V | undefined,
  ) {}

  /**
   * Loads the stored records (records that do not decode are left out). `rekey` names the key a record
   * has now (stores written by an older version keyed by request id alone); a record under an old key is
   * stored again under the new one.
   */
  async load(rekey?: (key: string, value: V) => string): Promise<void> {
    for (const [stored, raw] of await this.store.load()) {
      const value = this.decode(raw);
      if (!value) continue;
      const key = rekey?.(stored, value) ?? stored;
      if (key !== stored) {
        await this.store.put(key, raw);
        await this.store.delete(stored);
      }
      this.remember(key, value, charged(key, value));
    }
  }

  get size(): number {
    return this.rows.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get(key: string): V | undefined {
    return this.rows.get(key)?.value;
  }

  entries(): IterableIterator<[string, Row<V>]> {
    return this.rows.entries();
  }

  /** The peers that have records now. */
  peerNames(): IterableIterator<string> {
    return this.perPeer.keys();
  }

  /** Records per peer (for metrics). */
  peers(): Map<string, number> {
    return new Map([...this.perPeer].map(([peer, use]) => [peer, use.entries]));
  }

  /**
   * Stores `value` under `key` durably, a new record or a replacement; refuses (ERR_ASYNC_FULL) when a
   * bound would be passed. `reservation` (from `reserve`) is released first, so its room is this record's.
   */
  async put(key: string, value: V, reservation?: Reservation): Promise<void> {
    reservation?.release();
    const bytes = charged(key, value);
    const old = this.rows.get(key);
    const samePeer = old?.value.peer === value.peer;
    this.checkRoom(
      value.peer,
      old ? 0 : 1,
      samePeer ? 0 : 1,
      bytes - (old?.bytes ?? 0),
      bytes - (samePeer ? (old?.bytes ?? 0) : 0),
    );
    await this.store.put(key, value as unknown as JsonObject);
    if (old) this.forget(key, old);
    this.remember(key, value, bytes);
  }

  /**
   * A change of state of the record under `key` (same peer): not refused for room while it stays within
   * the STATE_SLACK_BYTES the record was charged beyond its size when added (every change of state does);
   * a change that grows it more is charged the difference, and refused (ERR_ASYNC_FULL) when a bound
   * would be passed. Throws also when the store cannot write it, or when no such record exists.
   */
  async update(key: string, value: V): Promise<void> {
    const old = this.rows.get(key);
    if (!old || old.value.peer !== value.peer)
      throw new Error(
        `no record ${JSON.stringify(key)} of ${value.peer} in the ${this.name} table to update`,
      );
    const growth = sizeOf(key, value) - old.bytes;
    if (growth > 0) this.checkRoom(value.peer, 0, 0, growth, growth);
    await this.store.put(key, value as unknown as JsonObject);
    this.forget(key, old);
    this.remember(key, value, old.bytes + Math.max(0, growth));
  }

  /**
   * Holds room for one new record of `peer` of about `value`'s size (ERR_ASYNC_FULL when there is none),
   * until `put` uses it or it is released: checked before a request is sent whose acknowledgement must
   * then be recorded.
   */
  reserve(key: string, value: V): Reservation {
    const bytes = charged(key, value);
    this.checkRoom(value.peer, 1, 1, bytes, bytes);
    const add = (sign: number): void => {
      const use = this.reserved.get(value.peer) ?? { entries: 0, bytes: 0 };
      const next = { entries: use.entries + sign, bytes: use.bytes + sign * bytes };
      if (next.entries > 0) this.reserved.set(value.peer, next);
      else this.reserved.delete(value.peer);
    };
    add(1);
    let held = true;
    return {
      release: () => {
        if (held) add(-1);
        held = false;
      },
    };
  }

  /** Throws ERR_ASYNC_FULL unless `entries`/`bytes` more (in total; `peerEntries`/`peerBytes` for `peer`) fit. */
  private checkRoom(
    peer: string,
    entries: number,
    peerEntries: number,
    bytes: number,
    peerBytes: number,
  ): void {
    let held = { entries: 0, bytes: 0 };
    for (const use of this.reserved.values())
      held = { entries: held.entries + use.entries, bytes: held.bytes + use.bytes };
    const peerHeld = this.reserved.get(peer) ?? { entries: 0, bytes: 0 };
    const peerUse = this.perPeer.get(peer) ?? { entries: 0, bytes: 0 };
    if (
      this.rows.size + held.entries + entries > this.limits.max_entries ||
      this.totalBytes + held.bytes + bytes > this.limits.max_bytes
    )
      throw new AsyncError(
        'ERR_ASYNC_FULL',
        `the ${this.name} table is full (${this.rows.size} of ${this.limits.max_entries} entries, ` +
          `${this.totalBytes} of ${this.limits.max_bytes} bytes)`,
      );
    if (
      peerUse.entries + peerHeld.entries + peerEntries > this.limits.max_entries_per_peer ||
      peerUse.bytes + peerHeld.bytes + peerBytes > this.limits.max_bytes_per_peer
    )
      throw new AsyncError(
        'ERR_ASYNC_FULL',
        `the ${this.name} table is full for ${peer} (${peerUse.entries} of ` +
          `${this.limits.max_entries_per_peer} entries, ${peerUse.bytes} of ` +
          `${this.limits.max_bytes_per_peer} bytes)`,
      );
  }

  async delete(key: string): Promise<void> {
    const old = this.rows.get(key);
    if (!old) return;
    await this.store.delete(key);
    this.forget(key, old);
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  private remember(key: string, value: V, bytes: number): void {
    this.rows.set(key, { value, bytes });
    this.totalBytes += bytes;
    const use = this.perPeer.get(value.peer) ?? { entries: 0, bytes: 0 };
    this.perPeer.set(value.peer, { entries: use.entries + 1, bytes: use.bytes + bytes });
  }

  private forget(key: string, row: Row<V>): void {
    this.rows.delete(key);
    this.totalBytes -= row.bytes;
    const use = this.perPeer.get(row.value.peer) ?? { entries: 1, bytes: row.bytes };
    if (use.entries > 1)
      this.perPeer.set(row.value.peer, { entries: use.entries - 1, bytes: use.bytes - row.bytes });
    else this.perPeer.delete(row.value.peer);
  }
}

/**
 * The key of a record about one request of another operator: the authenticated operator and the request
 * id, so that an operator reusing another's id reaches a record of its own, never theirs.
 */
export function peerKey(peer: string, id: string): string {
  return `${peer}${SEPARATOR}${id}`;
}

/** `peerKey` for a record stored under its request id alone (older stores): the new key. */
export function peerRekey(key: string, value: PeerRecord): string {
  return key.includes(SEPARATOR) ? key : peerKey(value.peer, key);
}

/** Operator names never contain it (they come from the directory and certificates). */
const SEPARATOR = '\u0000';

function sizeOf(key: string, value: PeerRecord): number {
  return Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(value));
}

/** What a record is charged when added: its size and room for its later changes of state. */
function charged(key: string, value: PeerRecord): number {
  return sizeOf(key, value) + STATE_SLACK_BYTES;
}
