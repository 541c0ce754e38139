/**
 * What the status page shows of the store of asynchronous calls [docs/status.md]: every table's store is
 * wrapped so that the time of the last operation the store answered (load, write, delete or the readiness
 * PING) and the last error are known — on Redis, how long ago the server last answered. One StoreWatch is
 * shared by the tables of one eps; it keeps two numbers and one clipped message.
 */
import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { JsonObject } from '../core/json.js';
import type { TableStore } from './table-store.js';

/** Longest error message kept. */
const MAX_ERROR_CHARS = 300;

export interface StoreContact {
  /** Clock time of the last operation the store answered (0: none yet). */
  okAt: number;
  /** The error of the last failed operation ('' when none failed since the last answer). */
  error: string;
}

export class StoreWatch {
  private contact: StoreContact = { okAt: 0, error: '' };

  constructor(private readonly clock: Clock) {}

  /** Resolves or rejects as `operation` does, noting the outcome. */
  async track<T>(operation: Promise<T>): Promise<T> {
    try {
      const value = await operation;
      this.contact = { okAt: this.clock.now(), error: '' };
      return value;
    } catch (e) {
      const message = errorMessage(e);
      this.contact = {
        okAt: this.contact.okAt,
        error: message.length > MAX_ERROR_CHARS ? `${message.slice(0, MAX_ERROR_CHARS)}…` : message,
      };
      throw e;
    }
  }

  last(): StoreContact {
    return this.contact;
  }
}

/** A table store whose operations report to a StoreWatch. */
export class ObservedTableStore implements TableStore {
  readonly probe: (() => Promise<void>) | undefined;

  constructor(
    private readonly inner: TableStore,
    private readonly watch: StoreWatch,
  ) {
    const probe = inner.probe?.bind(inner);
    this.probe = probe && (() => watch.track(probe()));
  }

  load(): Promise<Map<string, JsonObject>> {
    return this.watch.track(this.inner.load());
  }

  put(key: string, value: JsonObject): Promise<void> {
    return this.watch.track(this.inner.put(key, value));
  }

  delete(key: string): Promise<void> {
    return this.watch.track(this.inner.delete(key));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
