/**
 * `jsonrpc_server` channel: the local gateway. Local applications POST JSON-RPC requests; the gateway turns
 * them into addressed requests from the own operator and maps the broker's outcome back
 * [WIRE, docs/protocol.md#gateway].
 */
import { logger } from '../core/log.js';
import type { EpsResponse } from '../core/messages.js';
import type { Broker } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';
import { errorMessage } from '../core/errors.js';
import { OUTCOMES } from '../core/outcome.js';
import { unwrapValue } from '../jsonrpc/client.js';
import { extractRequest } from '../jsonrpc/extract.js';
import { JsonHttpServer, type HttpServerConfig, type IncomingJson } from '../jsonrpc/http-server.js';
import { denormaliseId, normaliseId } from '../jsonrpc/ids.js';
import { buildResponse, sendJson, sendJsonRpc } from '../jsonrpc/write.js';
import type { Channel } from '../broker/channel.js';
import type { ConnectionFilter } from '../jsonrpc/http-server.js';

const log = logger('gateway');

export class JsonRpcServerChannel implements Channel {
  readonly type = 'jsonrpc_server' as const;
  readonly http: JsonHttpServer;

  constructor(
    private readonly broker: Broker,
    config: HttpServerConfig,
    filter?: ConnectionFilter,
  ) {
    this.http = new JsonHttpServer(config, (incoming) => this.handle(incoming), filter);
  }

  async open(): Promise<void> {
    const addr = await this.http.listen();
    log.info('JSON-RPC gateway listening', { address: `${addr.address}:${addr.port}` });
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  canDeliverTo(): boolean {
    return false;
  }

  async deliver(): Promise<null> {
    return null;
  }

  private async handle({ req, res, body }: IncomingJson): Promise<void> {
    const extracted = extractRequest(req.headers['content-type'], body);
    if (!extracted.ok) {
      sendJson(res, extracted.status, extracted.body);
      return;
    }
    const { method, params } = extracted.request;
    const localId = normaliseId(extracted.request.id);
    const replyId = denormaliseId(localId);
    const own = this.broker.directory.entry(this.broker.ownName);
    if (!own) {
      const code = OUTCOMES.internal.jsonRpc;
      sendJsonRpc(res, buildResponse(undefined, { code, message: 'internal error' }, replyId));
      return;
    }
    let outcome: EpsResponse | null;
    try {
      outcome = await this.broker.deliver(
        { method, params, id: `${method}(${localId})` },
        { name: this.broker.ownName },
      );
    } catch (e) {
      // Every failure of the broker is answered as a rejection (code 1, the original's); one that is not a
      // BrokerError is a bug worth an error log.
      if (!(e instanceof BrokerError)) log.error('unexpected broker failure', { error: errorMessage(e) });
      const code = OUTCOMES.rejected.jsonRpc;
      sendJsonRpc(res, buildResponse(undefined, { code, message: errorMessage(e), data: {} }, replyId));
      return;
    }
    if (outcome === null) {
      sendJsonRpc(res, buildResponse({ message: 'submitted' }, undefined, replyId));
      return;
    }
    if (outcome.error) {
      const { code, message } = outcome.error;
      const data = outcome.error.data === undefined ? null : unwrapValue(outcome.error.data);
      sendJsonRpc(res, buildResponse(undefined, { code, message, data: data ?? null }, replyId));
      return;
    }
    const result = outcome.result === undefined ? null : unwrapValue(outcome.result);
    sendJsonRpc(res, buildResponse(result ?? null, undefined, replyId));
  }
}
