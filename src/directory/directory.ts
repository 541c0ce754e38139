/**
 * The directory as the EPS core sees it: a synchronous view of the current (verified) entries, kept fresh
 * by a backend (json files, or the SD API) in the background.
 */
import type { DirectoryEntry, SignedChangeRecord } from '../core/directory-entry.js';
import { CodedError } from '../core/errors.js';
import type { RecordTree } from '../records/index.js';

export interface EntryQuery {
  operator?: string;
  group?: string;
  /** Absent: no channel filter; an empty list matches nothing [docs/protocol.md#internal-methods]. */
  channels?: string[];
}

export interface Directory {
  /** The entry named exactly `name`, if any. */
  entry(name: string): DirectoryEntry | undefined;
  entries(query?: EntryQuery): DirectoryEntry[];
  /** Loads the first state (json: must succeed; api: failure is logged and retried). */
  start(): Promise<void>;
  close(): Promise<void>;
  /** Called after every change of the entry set. */
  onChange(listener: () => void): void;
  /** The verified record chain, oldest first (backends that have one: api). */
  chain?(): readonly SignedChangeRecord[];
  /** The Merkle tree over chain(), kept in step with it (backends that have a chain). */
  tree?(): RecordTree;
}

export class DirectoryLookupError extends CodedError<'ERR_DIRECTORY_NOT_FOUND'> {
  constructor(message = 'no directory entry found') {
    super('ERR_DIRECTORY_NOT_FOUND', message);
    this.name = 'DirectoryLookupError';
  }
}

export function requireEntry(directory: Directory, name: string): DirectoryEntry {
  const entry = directory.entry(name);
  if (!entry) throw new DirectoryLookupError();
  return entry;
}

export function matchesQuery(entry: DirectoryEntry, query: EntryQuery | undefined): boolean {
  if (!query) return true;
  if (query.operator && entry.name !== query.operator) return false;
  if (query.group && !entry.groups.includes(query.group)) return false;
  if (query.channels !== undefined) {
    const wanted = query.channels;
    if (!entry.channels.some((c) => wanted.includes(c.type))) return false;
  }
  return true;
}

/** A directory over a fixed map, refreshed by replacing the map; used by the backends. */
export class EntryMap {
  private byName = new Map<string, DirectoryEntry>();
  private listeners: (() => void)[] = [];

  replace(entries: Map<string, DirectoryEntry>): void {
    this.byName = entries;
    for (const l of this.listeners) l();
  }

  entry(name: string): DirectoryEntry | undefined {
    return this.byName.get(name);
  }

  entries(query?: EntryQuery): DirectoryEntry[] {
    const out: DirectoryEntry[] = [];
    for (const e of this.byName.values()) if (matchesQuery(e, query)) out.push(e);
    return out;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }
}
