/**
 * One table of asynchronous calls (pending answers, awaited answers): records by key in memory,
 * every change written to a TableStore before it is acknowledged, bounded in entries and bytes in total
 * and per peer. A change that would pass a bound is refused with ERR_ASYNC_FULL and changes nothing.
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
  bytes: number;
}

export class BoundedTable<V extends PeerRecord> {
  private readonly rows = new Map<string, Row<V>>();
  private readonly perPeer = new Map<string, { entries: number; bytes: number }>();
  private totalBytes = 0;

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
      this.remember(key, value, sizeOf(key, value));
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

  /** Stores `value` under `key` durably; refuses (ERR_ASYNC_FULL) when a bound would be passed. */
  async put(key: string, value: V): Promise<void> {
    const bytes = sizeOf(key, value);
    const old = this.rows.get(key);
    const samePeer = old?.value.peer === value.peer;
    const entries = this.rows.size + (old ? 0 : 1);
    const peerUse = this.perPeer.get(value.peer) ?? { entries: 0, bytes: 0 };
    const peerEntries = peerUse.entries + (samePeer ? 0 : 1);
    const peerBytes = peerUse.bytes - (samePeer ? (old?.bytes ?? 0) : 0) + bytes;
    const totalBytes = this.totalBytes - (old?.bytes ?? 0) + bytes;
    if (entries > this.limits.max_entries || totalBytes > this.limits.max_bytes)
      throw new AsyncError(
        'ERR_ASYNC_FULL',
        `the ${this.name} table is full (${this.rows.size} of ${this.limits.max_entries} entries, ` +
          `${this.totalBytes} of ${this.limits.max_bytes} bytes)`,
      );
    if (peerEntries > this.limits.max_entries_per_peer || peerBytes > this.limits.max_bytes_per_peer)
      throw new AsyncError(
        'ERR_ASYNC_FULL',
        `the ${this.name} table is full for ${value.peer} (${peerUse.entries} of ` +
          `${this.limits.max_entries_per_peer} entries, ${peerUse.bytes} of ` +
          `${this.limits.max_bytes_per_peer} bytes)`,
      );
    await this.store.put(key, value as unknown as JsonObject);
    if (old) this.forget(key, old);
    this.remember(key, value, bytes);
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
