/**
 * Calls from a proxy to its own EPS gateway (docs/protocol.md#proxy-control-api): `<operator>.<method>` with
 * the JSON-RPC id `""` (the EPS generates the real id and adds `_client`). Unlike the original, every call
 * has a timeout (`jsonrpc_client.timeout`) and connections are reused.
 */
import type { JsonObject } from '../../core/json.js';
import { JsonRpcClient, type JsonRpcClientConfig, type JsonRpcReply } from '../../jsonrpc/client.js';
import { CodedError } from '../../core/errors.js';

export class EpsCallError extends CodedError<'ERR_PROXY_EPS_CALL'> {
  constructor(method: string, options: { cause: unknown }) {
    const why = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super('ERR_PROXY_EPS_CALL', `calling ${method} through the own EPS failed: ${why}`, options);
    this.name = 'EpsCallError';
  }
}

/** What a proxy needs from its EPS; an interface so tests can put a real server of their own behind it. */
export interface EpsCaller {
  /** Sends the call; resolves with the reply (which may carry an error), rejects with EpsCallError. */
  call(method: string, params: JsonObject): Promise<JsonRpcReply>;
  close(): void;
}

export class EpsLink implements EpsCaller {
  private readonly client: JsonRpcClient;

  constructor(config: JsonRpcClientConfig) {
    this.client = new JsonRpcClient(config);
  }

  get endpoint(): string {
    return this.client.endpoint;
  }

  async call(method: string, params: JsonObject): Promise<JsonRpcReply> {
    try {
      return await this.client.call(method, params, '');
    } catch (error) {
      throw new EpsCallError(method, { cause: error });
    }
  }

  close(): void {
    this.client.close();
  }
}
