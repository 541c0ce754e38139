/** A Directory over a fixed list of entries, for unit tests that need lookups and nothing else. */
import type { DirectoryEntry } from '../../src/core/directory-entry.js';
import { matchesQuery, type Directory } from '../../src/directory/directory.js';

export function fixedDirectory(entries: DirectoryEntry[]): Directory {
  const byName = new Map(entries.map((e) => [e.name, e]));
  return {
    entry: (name) => byName.get(name),
    entries: (query) => [...byName.values()].filter((e) => matchesQuery(e, query)),
    start: async () => undefined,
    close: async () => undefined,
    onChange: () => undefined,
  };
}
