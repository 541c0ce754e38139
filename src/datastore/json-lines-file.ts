/**
 * A JSON Lines file written durably: one JSON value per line, appended and fsynced before the call
 * returns, rewritten atomically (temporary file, fsync, rename). The folder is fsynced after the file is
 * created and after each rename, so that the file's entry survives a power loss too. A crash during an append leaves an
 * incomplete last line, which `load` reports as a torn tail and leaves out (it was never acknowledged).
 * Used by the eps directory's state file (directory/mirror-state.ts) and the asynchronous-call store
 * (async/file-table-store.ts).
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { CodedError } from '../core/errors.js';
import { syncFolder as fsyncFolder } from './sync-folder.js';

export interface LoadedLines {
  /** Parsed values of the complete lines, oldest first. */
  values: unknown[];
  /** The last line was incomplete (a crash during an append) and was left out. */
  tornTail: boolean;
}

export class JsonLinesError extends CodedError<'ERR_DATASTORE_JSON_LINES'> {
  override readonly name = 'JsonLinesError';

  constructor(message: string, options?: ErrorOptions) {
    super('ERR_DATASTORE_JSON_LINES', message, options);
  }
}

export class JsonLinesFile {
  /** `syncFolder` is replaceable for tests (a power loss cannot be tested for real). */
  constructor(
    readonly path: string,
    private readonly syncFolder: (folder: string) => void = fsyncFolder,
  ) {}

  get exists(): boolean {
    return existsSync(this.path);
  }

  /** The stored values; none if the file does not exist. Throws JsonLinesError on a bad complete line. */
  load(): LoadedLines {
    if (!existsSync(this.path)) return { values: [], tornTail: false };
    const lines = readFileSync(this.path, 'utf8').split('\n');
    // A complete file ends with a newline, so the last element is empty; anything else is a torn append.
    const tail = lines.pop()!;
    const values = lines.map((line, i) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        throw new JsonLinesError(`line ${i + 1} of ${this.path} is not JSON`);
      }
    });
    return { values, tornTail: tail !== '' };
  }

  /** Appends values durably (fsync before returning). */
  append(values: readonly unknown[]): void {
    const created = !existsSync(this.path);
    const newFolder = writeSynced(this.path, 'a', values);
    if (newFolder !== undefined) this.syncFolder(dirname(newFolder));
    if (created) this.syncFolder(dirname(this.path));
  }

  /** Replaces the whole file atomically: a crash leaves either the old or the new content. */
  rewrite(values: readonly unknown[]): void {
    const temp = `${this.path}.tmp`;
    const newFolder = writeSynced(temp, 'w', values);
    if (newFolder !== undefined) this.syncFolder(dirname(newFolder));
    renameSync(temp, this.path);
    this.syncFolder(dirname(this.path));
  }
}

/**
 * Writes one JSON line per value and fsyncs before returning (creating the folder, 0700, if missing);
 * returns the first folder it created, if any (its parent's entry for it needs an fsync too).
 */
function writeSynced(file: string, flags: 'a' | 'w', values: readonly unknown[]): string | undefined {
  const newFolder = mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const fd = openSync(file, flags);
  try {
    writeSync(fd, values.map((v) => JSON.stringify(v) + '\n').join(''));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return newFolder;
}
