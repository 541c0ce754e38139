/**
 * The `api` directory's verified chain on disk (`state_file`), so that its protection against rollbacks
 * and forks survives a restart, and routing can start before the SD answers
 * [docs/protocol.md#directory-backends]. JSON Lines (datastore/json-lines-file.ts), one signed record per
 * line: appended (and fsynced) as the chain grows, so a refresh writes only the new records; rewritten
 * through a temporary file and a rename on a reset. Records read back are verified again like records from
 * the SD; the file is not trusted.
 */
import type { SignedChangeRecord } from '../core/directory-entry.js';
import { CodedError } from '../core/errors.js';
import { JsonLinesError, JsonLinesFile } from '../datastore/json-lines-file.js';

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
  private readonly file: JsonLinesFile;

  constructor(readonly path: string) {
    this.file = new JsonLinesFile(path);
  }

  /** The stored records; none if the file does not exist. Throws MirrorStateError on a bad line. */
  load(): LoadedState {
    try {
      const { values, tornTail } = this.file.load();
      return { records: values, tornTail };
    } catch (e) {
      if (e instanceof JsonLinesError) throw new MirrorStateError(e.message, { cause: e });
      throw e;
    }
  }

  /** Appends records durably (fsync before returning). */
  append(records: readonly SignedChangeRecord[]): void {
    this.file.append(records);
  }

  /** Replaces the whole file atomically: a crash leaves either the old or the new chain. */
  rewrite(records: readonly SignedChangeRecord[]): void {
    this.file.rewrite(records);
  }
}
