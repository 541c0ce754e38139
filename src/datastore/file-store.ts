/**
 * File datastore [WIRE, docs/protocol.md#datastore]: an append-only file of chunked entries, byte-compatible
 * with the original's files. Differences, all about safety:
 * - the file is created with mode 0600 (the original uses 0700) and its folder with 0700;
 * - every append is written, then fsync'ed, before it resolves; a new file's folder is fsync'ed too;
 * - a torn tail (a partial chunk, an entry missing chunks, or a zero-filled region left by a crash) is detected
 *   while holding the lock, truncated away and logged with the number of bytes dropped; complete entries
 *   before it are kept. Other invalid data is corruption and is reported, never silently dropped;
 * - readers never consume an entry whose chunks are not all written yet;
 * - appends from several processes are serialised by an O_EXCL lock file (`<file>.lock`, see file-lock.ts),
 *   and within one process by a promise queue, which makes `appendIfCount` a real compare-and-append.
 */
import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open } from 'node:fs/promises';
import { dirname, parse, resolve, sep } from 'node:path';
import { logger } from '../core/log.js';
import type { DataEntry, Datastore } from './datastore.js';
import { ChunkScanner, encodeChunks, type ScanResult } from './chunks.js';
import { decodeEntry, encodeEntry, EntryFormatError } from './entry-codec.js';
import { FileLock, LOCK_WAIT_TIMEOUT_MS } from './file-lock.js';
import { syncFolder } from './sync-folder.js';
import { CodedError, errorMessage } from '../core/errors.js';

const log = logger('datastore');

export const FILE_MODE = 0o600;
export const FOLDER_MODE = 0o700;
/** Bytes read from the file per read call while scanning. */
export const READ_BLOCK_BYTES = 1024 * 1024;
export const LOCK_SUFFIX = '.lock';

export class FileStoreError extends CodedError<'ERR_DATASTORE_FILE'> {
  override readonly name = 'FileStoreError';

  constructor(message: string, options?: ErrorOptions) {
    super('ERR_DATASTORE_FILE', message, options);
  }
}

export interface FileDatastoreOptions {
  /** How long an append waits for another process's lock (default LOCK_WAIT_TIMEOUT_MS). */
  lockTimeoutMs?: number;
}

export class FileDatastore implements Datastore {
  private writer: FileHandle | undefined;
  private reader: FileHandle | undefined;
  private readonly lock: FileLock;
  /** Offset just after the last complete entry seen (the next scan starts here). */
  private offset = 0;
  /** Complete entries in the file up to `offset`. */
  private count = 0;
  /** Entries scanned (or written by us) but not yet handed out by readNew. */
  private unread: DataEntry[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly filename: string,
    options: FileDatastoreOptions = {},
  ) {
    this.lock = new FileLock(filename + LOCK_SUFFIX, options.lockTimeoutMs ?? LOCK_WAIT_TIMEOUT_MS);
  }

  /** Complete entries in the file as of the last scan or append. */
  get entryCount(): number {
    return this.count;
  }

  async open(): Promise<void> {
    if (this.writer) return;
    const folder = dirname(this.filename);
    try {
      await ensureFolder(folder);
      const created = await this.openHandles();
      if (created) syncFolder(folder);
    } catch (err) {
      await this.closeHandles();
      throw new FileStoreError(`cannot open datastore file ${this.filename}: ${errorMessage(err)}`);
    }
    try {
      await this.serial(() => this.lock.with(() => this.scan(true)));
    } catch (err) {
      await this.closeHandles();
      throw err;
    }
  }

  append(entries: DataEntry[]): Promise<void> {
    return this.serial(() =>
      this.lock.with(async () => {
        await this.scan(true);
        await this.write(entries);
      }),
    );
  }

  appendIfCount(expectedCount: number, entries: DataEntry[]): Promise<boolean> {
    return this.serial(() =>
      this.lock.with(async () => {
        await this.scan(true);
        if (this.count !== expectedCount) return false;
        await this.write(entries);
        return true;
      }),
    );
  }

  readNew(): Promise<DataEntry[]> {
    return this.serial(async () => {
      await this.scan(false);
      const out = this.unread;
      this.unread = [];
      return out;
    });
  }

  async close(): Promise<void> {
    if (!this.writer) return;
    await this.serial(() => this.closeHandles());
  }

  /** Runs `work` after everything queued before it (one file operation at a time per instance). */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (!this.writer || !this.reader)
        throw new FileStoreError(`datastore file ${this.filename} is not open`);
      return work();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Returns true when the file did not exist before. */
  private async openHandles(): Promise<boolean> {
    let created = false;
    try {
      this.writer = await open(
        this.filename,
        constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL,
        FILE_MODE,
      );
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      this.writer = await open(this.filename, constants.O_WRONLY | constants.O_APPEND);
    }
    this.reader = await open(this.filename, constants.O_RDONLY);
    return created;
  }

  private async closeHandles(): Promise<void> {
    const handles = [this.writer, this.reader];
    this.writer = undefined;
    this.reader = undefined;
    await Promise.all(handles.filter((h) => h !== undefined).map((h) => h.close()));
  }

  /**
   * Reads everything after `offset`. With `repair` (only while holding the lock, when no writer can be
   * active) an incomplete or zero-filled tail is a torn write and is truncated away.
   */
  private async scan(repair: boolean): Promise<void> {
    const reader = this.reader!;
    const size = (await reader.stat()).size;
    if (size < this.offset) {
      throw new FileStoreError(
        `datastore file ${this.filename} shrank from ${this.offset} to ${size} bytes (truncated by someone else)`,
      );
    }
    const scanner = new ChunkScanner(this.offset);
    const block = Buffer.alloc(Math.min(READ_BLOCK_BYTES, Math.max(size - this.offset, 1)));
    let position = this.offset;
    while (position < size) {
      const { bytesRead } = await reader.read(block, 0, Math.min(block.length, size - position), position);
      if (bytesRead === 0) break;
      scanner.push(block.subarray(0, bytesRead));
      position += bytesRead;
    }
    const result = scanner.result();
    this.take(result);
    if (result.end === 'clean') return;
    if (result.end === 'invalid' && !(repair && (await this.zeroFrom(result.problem!.offset, size)))) {
      const { offset, reason } = result.problem!;
      throw new FileStoreError(
        `datastore file ${this.filename} has invalid chunk data at offset ${offset} (${reason}); ` +
          'entries after it cannot be read, the file needs repair',
      );
    }
    if (!repair) return; // a partial tail outside the lock is another process's write in progress
    const dropped = size - result.boundary;
    log.warn(
      `datastore file ${this.filename}: torn tail detected (${describeTail(result)}), ` +
        `dropped ${dropped} bytes after offset ${result.boundary}`,
      { file: this.filename, droppedBytes: dropped, offset: result.boundary },
    );
    await this.writer!.truncate(result.boundary);
    await this.writer!.sync();
  }

  private take(result: ScanResult): void {
    for (const scanned of result.entries) {
      try {
        this.unread.push(decodeEntry(scanned.bytes));
      } catch (err) {
        if (!(err instanceof EntryFormatError)) throw err;
        throw new FileStoreError(
          `datastore file ${this.filename} holds an invalid entry at offset ${scanned.offset}: ${err.message}`,
        );
      }
    }
    this.count += result.entries.length;
    this.offset = result.boundary;
  }

  /** True when every byte from `from` to `size` is zero (what a crash can leave after the last write). */
  private async zeroFrom(from: number, size: number): Promise<boolean> {
    const block = Buffer.alloc(Math.min(READ_BLOCK_BYTES, Math.max(size - from, 1)));
    for (let position = from; position < size;) {
      const { bytesRead } = await this.reader!.read(
        block,
        0,
        Math.min(block.length, size - position),
        position,
      );
      if (bytesRead === 0) break;
      if (block.subarray(0, bytesRead).some((b) => b !== 0)) return false;
      position += bytesRead;
    }
    return true;
  }

  /** Writes all chunks of all entries, then fsyncs; on failure the partial tail is cut off again. */
  private async write(entries: DataEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const bytes = Buffer.concat(entries.map((e) => encodeChunks(encodeEntry(e))));
    const writer = this.writer!;
    try {
      for (let done = 0; done < bytes.length;) {
        const { bytesWritten } = await writer.write(bytes, done, bytes.length - done);
        done += bytesWritten;
      }
      await writer.sync();
    } catch (err) {
      await writer.truncate(this.offset).catch(() => undefined);
      throw new FileStoreError(`cannot write to datastore file ${this.filename}: ${errorMessage(err)}`);
    }
    this.offset += bytes.length;
    this.count += entries.length;
    for (const e of entries) {
      this.unread.push({ type: e.type, id: Buffer.from(e.id), data: Buffer.from(e.data) });
    }
  }
}

function describeTail(result: ScanResult): string {
  if (result.end === 'invalid') return `zero-filled bytes at offset ${result.problem!.offset}`;
  return 'an incomplete chunk or an entry missing chunks';
}

/**
 * Creates `folder` and missing parents (mode 0700), one level at a time: Node's recursive mkdir can spin
 * forever on some special file systems (e.g. below /proc) instead of failing.
 */
async function ensureFolder(folder: string): Promise<void> {
  folder = resolve(folder);
  const { root } = parse(folder);
  let path = root;
  for (const part of folder
    .slice(root.length)
    .split(sep)
    .filter((p) => p !== '')) {
    path = path === root ? root + part : path + sep + part;
    try {
      await mkdir(path, { mode: FOLDER_MODE });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
