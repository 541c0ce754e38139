/**
 * Client of the service directory's JSON-RPC API [docs/protocol.md#sd-api] as an EPS node uses it:
 * `getRecords`, `getTip`, `submitRecords`, `getEntries`. Every call has the JSON-RPC client's timeout and
 * reuses kept-alive connections. Unlike the original (first endpoint only), the endpoints are tried in order:
 * a transport failure moves on to the next endpoint, and the one that answered is used first next time.
 * Endpoint i uses `server_names[i]`, or the last server name when there are fewer names than endpoints.
 */
import type { JsonValue } from '../core/json.js';
import { logger } from '../core/log.js';
import {
  MAX_DIRECTORY_RESPONSE_BYTES,
  JsonRpcClient,
  JsonRpcClientError,
  type JsonRpcReply,
} from '../jsonrpc/client.js';
import { normaliseSignedRecord } from '../records/index.js';
import type { ApiDirectorySettings } from '../settings/index.js';
import { SdRpcError, SdUnreachableError } from './api-errors.js';
import type { SignedChangeRecord } from '../core/directory-entry.js';

const log = logger('sd-client');

/** The original's API client always sends this id [docs/protocol.md#sd-api]. */
const REQUEST_ID = '';

export interface SdTarget {
  endpoint: string;
  serverName: string;
}

/** Pairs endpoints with server names: endpoint i gets name i, or the last name when names run out. */
export function sdTargets(settings: Pick<ApiDirectorySettings, 'endpoints' | 'server_names'>): SdTarget[] {
  const names = settings.server_names;
  return settings.endpoints.map((endpoint, i) => ({
    endpoint,
    serverName: names[Math.min(i, names.length - 1)] ?? '',
  }));
}

export class SdApiClient {
  readonly targets: readonly SdTarget[];
  private readonly clients: JsonRpcClient[];
  private preferred = 0;

  /** Reads the TLS files of the `jsonrpc_client` block; throws when they are unusable. */
  constructor(settings: ApiDirectorySettings) {
    this.targets = sdTargets(settings);
    this.clients = this.targets.map(
      (target) =>
        new JsonRpcClient(
          { ...settings.jsonrpc_client, endpoint: target.endpoint },
          { serverName: target.serverName, maxResponseBytes: MAX_DIRECTORY_RESPONSE_BYTES },
        ),
    );
  }

  /** The endpoint tried first by the next call (the last one that answered). */
  get currentTarget(): SdTarget {
    return this.targets[this.preferred]!;
  }

  /** Raw `getRecords` result: the records after `after` ("" = all), or the whole chain if unknown. */
  async getRecords(after: string): Promise<JsonValue> {
    // A Go SD omits `result` for an empty (nil) list.
    return (await this.call('getRecords', { after })) ?? [];
  }

  /** The SD's tip (normalised), or undefined when its store is empty. */
  async getTip(): Promise<SignedChangeRecord | undefined> {
    const result = await this.call('getTip', {});
    return result === undefined
      ? undefined
      : normaliseSignedRecord(result, undefined, { allowProperties: true });
  }

  /** Submits signed records in one call; resolves when the SD answered "ok". */
  async submitRecords(records: readonly SignedChangeRecord[]): Promise<void> {
    const params = { records: records as unknown as JsonValue };
    const result = await this.call('submitRecords', params, false);
    if (result !== 'ok') {
      throw new SdRpcError('submitRecords', 0, `unexpected result ${JSON.stringify(result)}`, undefined);
    }
  }

  /** Raw `getEntries` result (unverified: computed by the SD). */
  async getEntries(): Promise<JsonValue> {
    return (await this.call('getEntries', {})) ?? [];
  }

  close(): void {
    for (const client of this.clients) client.close();
  }

  /**
   * Calls `method` on the preferred endpoint, falling over to the others in order on transport failures.
   * A read (`retry`) that fails fast on an endpoint is retried there once first: a kept-alive connection may
   * have been closed by the server just as it was reused. A JSON-RPC error is an answer (no failover).
   * Resolves with the result, undefined when absent.
   */
  private async call(method: string, params: JsonValue, retry = true): Promise<JsonValue | undefined> {
    const failures: { endpoint: string; reason: string }[] = [];
    const count = this.targets.length;
    for (let step = 0; step < count; step++) {
      const index = (this.preferred + step) % count;
      const target = this.targets[index]!;
      let reply;
      try {
        reply = await this.attempt(index, method, params, retry);
      } catch (err) {
        if (!(err instanceof JsonRpcClientError)) throw err;
        failures.push({ endpoint: target.endpoint, reason: err.message });
        if (step + 1 < count) {
          const next = this.targets[(index + 1) % count]!;
          log.warn('service directory endpoint failed, trying the next one', {
            endpoint: target.endpoint,
            next: next.endpoint,
            error: err.message,
          });
        }
        continue;
      }
      if (index !== this.preferred) {
        log.info('using service directory endpoint', { endpoint: target.endpoint });
        this.preferred = index;
      }
      if (reply.error) throw new SdRpcError(method, reply.error.code, reply.error.message, reply.error.data);
      return reply.result;
    }
    throw new SdUnreachableError(failures);
  }

  private async attempt(
    index: number,
    method: string,
    params: JsonValue,
    retry: boolean,
  ): Promise<JsonRpcReply> {
    const client = this.clients[index]!;
    try {
      return await client.call(method, params, REQUEST_ID);
    } catch (err) {
      // A timeout is not retried: it already took the whole timeout.
      if (!retry || !(err instanceof JsonRpcClientError) || err.code === 'ERR_JSONRPC_TIMEOUT') throw err;
      log.debug('service directory request failed, retrying once', {
        endpoint: client.endpoint,
        error: err.message,
      });
      return client.call(method, params, REQUEST_ID);
    }
  }
}
