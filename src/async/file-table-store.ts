/**
 * A table store in one JSON Lines journal (datastore/json-lines-file.ts: append + fsync, atomic rewrite;
 * the changes made in one turn of the event loop are written and fsynced together, each resolving only
 * once it is on disk): `{"k": key, "v": record}` stores a record, `{"k": key}` removes it. At start the
 * journal is replayed; a torn last line (a crash during an append, never acknowledged) is dropped and the
 * journal is rewritten with only the live records. It is compacted the same way when removed records make
 * up most of it. The file and its folder are created on the first change, so a node that never uses
 * asynchronous calls writes nothing.
 */
import { isJsonObject, type JsonObject } from '../core/json.js';
import { logger } from '../core/log.js';
import { JsonLinesFile } from '../datastore/json-lines-file.js';
import type { TableStore } from './table-store.js';

const log = logger('async-store');

/** Journal lines allowed beyond twice the live records before a compaction. */
const COMPACT_SLACK_LINES = 1000;

export class FileTableStore implements TableStore {
  private readonly file: JsonLinesFile;
  private readonly live = new Map<string, JsonObject>();
  private lines = 0;
  /** Changes waiting for the next write (group commit). */
  private batch: { line: JsonObject; resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(readonly path: string) {
    this.file = new JsonLinesFile(path);
  }

  async load(): Promise<Map<string, JsonObject>> {
    const { values, tornTail } = this.file.load();
    for (const line of values) {
      if (!isJsonObject(line) || typeof line.k !== 'string') continue;
      if (isJsonObject(line.v)) this.live.set(line.k, line.v);
      else this.live.delete(line.k);
    }
    this.lines = values.length;
    if (tornTail)
      log.warn('store ends with an incomplete line (a crash while writing); it is dropped', {
        file: this.path,
      });
    if (tornTail || this.lines > this.live.size) this.compact();
    return new Map(this.live);
  }

  async put(key: string, value: JsonObject): Promise<void> {
    this.live.set(key, value);
    await this.append({ k: key, v: value });
    this.compactIfMostlyRemoved();
  }

  async delete(key: string): Promise<void> {
    if (!this.live.has(key)) return;
    this.live.delete(key);
    await this.append({ k: key });
    this.compactIfMostlyRemoved();
  }

  async close(): Promise<void> {}

  /** Resolves once the line is on disk; lines of the same turn of the event loop share one fsync. */
  private append(line: JsonObject): Promise<void> {
    return new Promise((resolve, reject) => {
      this.batch.push({ line, resolve, reject });
      if (this.batch.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    try {
      this.file.append(batch.map((b) => b.line));
      this.lines += batch.length;
    } catch (e) {
      for (const b of batch) b.reject(e);
      return;
    }
    for (const b of batch) b.resolve();
  }

  private compactIfMostlyRemoved(): void {
    if (this.lines > 2 * this.live.size + COMPACT_SLACK_LINES) this.compact();
  }

  private compact(): void {
    if (this.live.size === 0 && !this.file.exists) return;
    this.file.rewrite([...this.live].map(([k, v]) => ({ k, v })));
    this.lines = this.live.size;
  }
}
