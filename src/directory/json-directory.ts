/**
 * `json` directory backend: unsigned change records from local files (a file, or every `*.json` file of a
 * folder in name order), for tests and development [docs/protocol.md#directory-backends]. Instead of
 * re-reading all files on every lookup as the original did, files are checked for changes once a second and
 * the entries rebuilt when they change; a broken file keeps the last good state (and is logged). Its age
 * (`eps_directory_age_seconds`) is the time since the last check that read the files without a problem.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { logger } from '../core/log.js';
import { applyRecords, normaliseChangeRecords } from '../records/index.js';
import type { Directory, EntryQuery } from './directory.js';
import { EntryMap } from './directory.js';
import type { DirectoryEntry, SignedChangeRecord } from '../core/directory-entry.js';
import { CodedError, errorMessage } from '../core/errors.js';
import { describeDirectory } from './metrics.js';

const log = logger('json-directory');

export const RELOAD_CHECK_MS = 1000;

export class JsonDirectoryError extends CodedError<'ERR_DIRECTORY_JSON'> {
  constructor(message: string) {
    super('ERR_DIRECTORY_JSON', message);
  }
}

export class JsonDirectory implements Directory {
  private readonly map = new EntryMap();
  private fingerprint = '';
  private timer: TimerHandle | undefined;
  private running = false;
  /** Clock time of the last check that read the files without a problem. */
  private checkedAt = 0;

  constructor(
    private readonly path: string,
    private readonly clock: Clock = systemClock,
  ) {}

  async start(): Promise<void> {
    this.reload(true);
    describeDirectory({ ageSeconds: () => (this.clock.now() - this.checkedAt) / 1000 });
    this.running = true;
    this.schedule();
  }

  async close(): Promise<void> {
    this.running = false;
    this.clock.clearTimeout(this.timer);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.clock.setTimeout(() => {
      this.reload(false);
      this.schedule();
    }, RELOAD_CHECK_MS);
    this.timer.unref();
  }

  entry(name: string): DirectoryEntry | undefined {
    return this.map.entry(name);
  }

  entries(query?: EntryQuery): DirectoryEntry[] {
    return this.map.entries(query);
  }

  onChange(listener: () => void): void {
    this.map.onChange(listener);
  }

  private files(): string[] {
    let st;
    try {
      st = statSync(this.path);
    } catch (e) {
      throw new JsonDirectoryError(
        `error retrieving records path info for '${this.path}': ${(e as NodeJS.ErrnoException).code}`,
      );
    }
    if (!st.isDirectory()) return [this.path];
    return readdirSync(this.path)
      .filter((n) => n.endsWith('.json'))
      .sort()
      .map((n) => join(this.path, n))
      .filter((p) => statSync(p).isFile());
  }

  private reload(initial: boolean): void {
    try {
      const files = this.files();
      const fp = files
        .map((f) => {
          const st = statSync(f);
          return `${f}:${st.mtimeMs}:${st.size}`;
        })
        .join('|');
      if (fp !== this.fingerprint) {
        const entries = new Map<string, DirectoryEntry>();
        for (const file of files) applyRecords(entries, this.readFile(file));
        this.fingerprint = fp;
        this.map.replace(entries);
        if (!initial) log.info('directory files changed, entries reloaded', { entries: entries.size });
      }
      this.checkedAt = this.clock.now();
    } catch (e) {
      if (initial) throw e;
      log.error('cannot reload directory files, keeping the last good state', {
        error: errorMessage(e),
      });
    }
  }

  private readFile(file: string): SignedChangeRecord[] {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new JsonDirectoryError(`cannot read directory file '${file}': ${errorMessage(e)}`);
    }
    const records = (raw as { records?: unknown } | null)?.records;
    if (!Array.isArray(records))
      throw new JsonDirectoryError(`directory file '${file}' has no "records" list`);
    try {
      return normaliseChangeRecords(records).map((record) => ({
        parent_hash: '',
        hash: '',
        signature: null,
        record,
      }));
    } catch (e) {
      throw new JsonDirectoryError(`invalid record in '${file}': ${errorMessage(e)}`);
    }
  }
}
