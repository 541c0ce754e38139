/**
 * Where the tables of asynchronous calls live (`async.store` in the eps settings): a store keeps records by
 * key and makes each change durable before its promise resolves, because the change is acknowledged to
 * someone right after. The tables (bounded-table.ts) keep the working copy in memory and load it once.
 */
import type { JsonObject } from '../core/json.js';

export interface TableStore {
  /** Every stored record, by key (called once, at start). */
  load(): Promise<Map<string, JsonObject>>;
  /** Stores (or replaces) one record durably. */
  put(key: string, value: JsonObject): Promise<void>;
  /** Removes one record durably (a missing key is fine). */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
  /** Rejects when the store cannot be reached now (a store on a server: Redis); absent when local. */
  probe?(): Promise<void>;
}

/** A store that forgets everything at exit (`async.store.type: memory`; tests and throw-away nodes). */
export class MemoryTableStore implements TableStore {
  private readonly records = new Map<string, JsonObject>();

  async load(): Promise<Map<string, JsonObject>> {
    return new Map(this.records);
  }

  async put(key: string, value: JsonObject): Promise<void> {
    this.records.set(key, value);
  }

  async delete(key: string): Promise<void> {
    this.records.delete(key);
  }

  async close(): Promise<void> {}
}
