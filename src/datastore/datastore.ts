/**
 * Append-only stores of typed entries, shared by the service directory (signed records) and the proxies
 * (announcements) [docs/protocol.md#datastore]. One file per store kind implements this interface.
 */

export interface DataEntry {
  /** Entry type code (SD: 1 = signed change record; proxies: 1 = public, 2 = private announcement). */
  type: number;
  /** Random id (16 bytes in practice). */
  id: Buffer;
  data: Buffer;
}

export interface Datastore {
  /** Connects / opens (Redis: PING must succeed; file: create parent folders, detect a torn tail). */
  open(): Promise<void>;
  /** Appends; resolves only when the entry is durable (file: fsync'ed). */
  append(entries: DataEntry[]): Promise<void>;
  /**
   * Appends only if the store holds exactly `expectedCount` entries (compare-and-append), atomically
   * across processes sharing the store. Resolves false (and writes nothing) when the count differs.
   */
  appendIfCount(expectedCount: number, entries: DataEntry[]): Promise<boolean>;
  /** Entries this instance has not returned yet, in store order (incremental reads). */
  readNew(): Promise<DataEntry[]>;
  close(): Promise<void>;
  /** The connection state as the status page shows it (Redis: client, Sentinel or cluster nodes). */
  connectionState?(): Record<string, unknown>;
}
