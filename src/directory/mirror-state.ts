/**
 * The `api` directory's verified chain on disk (`state_file`), so that its protection against rollbacks
 * and forks survives a restart, and routing can start before the SD answers
 * [docs/protocol.md#directory-backends]. JSON Lines, one signed record per line: appended (and fsynced) as
 * the chain grows, so a refresh writes only the new records; rewritten through a temporary file and a rename
 * on a reset. Records read back are verified again like records from the SD; the file is not trusted.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { SignedChangeRecord } from '../core/directory-entry.js';
import { CodedError } from '../core/errors.js';

export interface LoadedState {
  /** Parsed records (unverified), oldest first. */
  records: unknown[];
  /** The last line was incomplete (a crash during an append) and was left out. */
  tornTail: boolean;
}

export class MirrorStateError extends CodedError<'ERR_DIRECTORY_MIRROR_STATE'> {
  override readonly name = 'MirrorStateError';

  constructor(message: string, options?: ErrorOptions) {
    super('ERR_DIRECTORY_MIRROR_STATE', message, options);
  }
}

export class MirrorStateFile {
  constructor(readonly path: string) {}

  /** The stored records; none if the file does not exist. Throws MirrorStateError on a bad line. */
  load(): LoadedState {
    if (!existsSync(this.path)) return { records: [], tornTail: false };
    const text = readFileSync(this.path, 'utf8');
    const lines = text.split('\n');
    // A complete file ends with a newline, so the last element is empty; anything else is a torn append.
    const tail = lines.pop()!;
    const records = lines.map((line, i) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        throw new MirrorStateError(`line ${i + 1} of ${this.path} is not JSON`);
      }
    });
    return { records, tornTail: tail !== '' };
  }

  /** Appends records durably (fsync before returning). */
  append(records: readonly SignedChangeRecord[]): void {
    writeSynced(this.path, 'a', records);
  }

  /** Replaces the whole file atomically: a crash leaves either the old or the new chain. */
  rewrite(records: readonly SignedChangeRecord[]): void {
    const temp = `${this.path}.tmp`;
    writeSynced(temp, 'w', records);
    renameSync(temp, this.path);
  }
}

/** Writes one JSON line per record and fsyncs before returning. */
function writeSynced(file: string, flags: 'a' | 'w', records: readonly SignedChangeRecord[]): void {
  const fd = openSync(file, flags);
  try {
    writeSync(fd, records.map((r) => JSON.stringify(r) + '\n').join(''));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
