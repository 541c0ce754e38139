/**
 * `jsonrpc_client` channel: delivers requests for the local operator to the operator's backend
 * [WIRE, docs/protocol.md#backends]. The backend sees the method after the last dot, the full addressed ID as
 * JSON-RPC id (or, for the `respond` of an asynchronous answer, the caller application's own id), and params
 * including `_client`.
 */
import type { Address } from '../core/address.js';
import { errorMessage } from '../core/errors.js';
import type { EpsRequest, EpsResponse } from '../core/messages.js';
import { JsonRpcClient, wrapValue, type JsonRpcClientConfig } from '../jsonrpc/client.js';
import type { CallScope, Channel } from '../broker/channel.js';

export class JsonRpcClientChannel implements Channel {
  readonly type = 'jsonrpc_client' as const;
  private readonly client: JsonRpcClient;

  constructor(
    private readonly ownName: string,
    config: JsonRpcClientConfig,
  ) {
    this.client = new JsonRpcClient(config);
  }

  async open(): Promise<void> {}

  async close(): Promise<void> {
    this.client.close();
  }

  canDeliverTo(address: Address): boolean {
    return address.operator === this.ownName;
  }

  /** The backend request ends with the caller's scope: at its deadline, or aborted when it gives up. */
  async deliver(request: EpsRequest, _address: Address, scope: CallScope): Promise<EpsResponse> {
    const dot = request.method.lastIndexOf('.');
    if (dot < 0) throw new Error('invalid method name');
    const method = request.method.slice(dot + 1);
    let reply;
    try {
      reply = await this.client.call(method, request.params, request.jsonRpcId ?? request.id, scope);
    } catch (e) {
      throw new Error(`error calling JSON-RPC server: ${errorMessage(e)}`, { cause: e });
    }
    const response: EpsResponse = { id: reply.id };
    const result = wrapValue(reply.result);
    if (result !== undefined) response.result = result;
    if (reply.error) {
      // The backend's own code, carried as the number it is.
      response.error = { code: reply.error.code, message: reply.error.message };
      const data = wrapValue(reply.error.data);
      if (data !== undefined) response.error.data = data;
    }
    return response;
  }
}
