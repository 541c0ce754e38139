/**
 * `jsonrpc_server` channel: the local gateway. Local applications POST JSON-RPC requests; the gateway turns
 * them into addressed requests from the own operator and maps the broker's outcome back
 * [WIRE, docs/protocol.md#gateway].
 *
 * Each request gets a deadline (`call_timeout`) and a cancellation that fires when the HTTP caller
 * disconnects; both travel with the request to every hop (core/cancellation.ts). When the deadline passes
 * the gateway answers at once with a deadline error and cancels the hops still working.
 *
 * Two methods without an operator are the gateway's own (docs/protocol.md#asynchronous-calls): `respond`
 * (the application answers a request its backend acknowledged; the id is the request's, exactly as the
 * backend received it) and `_status` (the state of asynchronous requests, for the own operator).
 */
import { logger } from '../core/log.js';
import type { EpsResponse } from '../core/messages.js';
import type { Broker } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';
import { errorMessage } from '../core/errors.js';
import { OUTCOMES } from '../core/outcome.js';
import { systemClock, type Clock } from '../core/clock.js';
import { Deadline } from '../core/deadline.js';
import {
  CallCancelledError,
  Cancellation,
  DeadlineExceededError,
  watchScope,
  type CallScope,
} from '../core/cancellation.js';
import type { JsonObject } from '../core/json.js';
import { unwrapValue } from '../jsonrpc/client.js';
import { extractRequest } from '../jsonrpc/extract.js';
import { JsonHttpServer, type HttpServerConfig, type IncomingJson } from '../jsonrpc/http-server.js';
import { denormaliseId, normaliseId } from '../jsonrpc/ids.js';
import { buildResponse, sendJson, sendJsonRpc } from '../jsonrpc/write.js';
import type { Channel } from '../broker/channel.js';
import type { ConnectionFilter } from '../jsonrpc/http-server.js';
import { refuseOtherOperators } from './gateway-clients.js';
import { RESPOND_METHOD, STATUS_METHOD } from '../async/protocol.js';

const log = logger('gateway');

/** Settled settings (the defaults are in settings/eps-schema.ts). */
export interface GatewayConfig extends HttpServerConfig {
  /** Seconds from reading a request to its answer, on every hop. */
  call_timeout: number;
}

export class JsonRpcServerChannel implements Channel {
  readonly type = 'jsonrpc_server' as const;
  readonly http: JsonHttpServer;
  private readonly callTimeoutMs: number;
  private readonly hop: string;

  constructor(
    private readonly broker: Broker,
    config: GatewayConfig,
    filter?: ConnectionFilter,
    private readonly clock: Clock = systemClock,
  ) {
    this.http = new JsonHttpServer(
      config,
      (incoming) => this.handle(incoming),
      (server) => {
        refuseOtherOperators(server, broker.ownName, (name) => broker.directory.entry(name));
        filter?.(server);
      },
    );
    this.callTimeoutMs = config.call_timeout * 1000;
    this.hop = `the gateway of ${broker.ownName}`;
  }

  async open(): Promise<void> {
    const addr = await this.http.listen();
    log.info('JSON-RPC gateway listening', { address: `${addr.address}:${addr.port}` });
  }

  stopAccepting(): void {
    this.http.stopAccepting();
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
    const scope: CallScope = {
      deadline: Deadline.after(this.callTimeoutMs, this.clock),
      cancellation: new Cancellation(),
    };
    // 'close' before the answer was written: the caller went away; every hop stops its work.
    res.on('close', () => {
      if (!res.writableFinished)
        scope.cancellation.cancel(new CallCancelledError(`the caller of ${this.hop} disconnected`));
    });
    const asyncCalls = this.broker.async;
    const run = (): Promise<EpsResponse | null> => {
      if (asyncCalls && method === RESPOND_METHOD)
        return asyncCalls.respond(extracted.request.id ?? undefined, params, scope);
      if (asyncCalls && method === STATUS_METHOD)
        return Promise.resolve(asyncCalls.statusAnswer(localId, params.id, params.caller));
      return this.broker.deliver(
        { method, params, id: `${method}(${localId})` },
        { name: this.broker.ownName },
        scope,
      );
    };
    let outcome: EpsResponse | null;
    try {
      outcome = await this.runInScope(run, scope);
    } catch (e) {
      if (e instanceof CallCancelledError) return; // nobody is left to answer
      if (e instanceof DeadlineExceededError) {
        sendJsonRpc(res, buildResponse(undefined, this.deadlineError(method, e.hop), replyId));
        return;
      }
      // Every failure of the broker is answered as a rejection (code 1, the original's); one that is not a
      // BrokerError is a bug worth an error log.
      if (!(e instanceof BrokerError)) log.error('unexpected broker failure', { error: errorMessage(e) });
      const code = OUTCOMES.rejected.jsonRpc;
      sendJsonRpc(res, buildResponse(undefined, { code, message: errorMessage(e), data: {} }, replyId));
      return;
    }
    if (outcome?.error && scope.deadline.expired) {
      // A hop further on ran out of the same deadline first and answered with its error: name that hop.
      sendJsonRpc(res, buildResponse(undefined, this.deadlineError(method, outcome.error.message), replyId));
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

  /**
   * The broker's answer, or a DeadlineExceededError at the gateway when the deadline passes first (the
   * scope is then cancelled, so the hops still working stop), or the reason the caller went away.
   */
  private runInScope(run: () => Promise<EpsResponse | null>, scope: CallScope): Promise<EpsResponse | null> {
    return new Promise((resolve, reject) => {
      const stop = watchScope(scope, this.hop, (reason) => {
        scope.cancellation.cancel(reason);
        reject(reason);
      });
      run().then(
        (outcome) => {
          stop();
          resolve(outcome);
        },
        (e: unknown) => {
          stop();
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  /** The answer when the deadline passed: code from the outcome table, the hop where it passed. */
  private deadlineError(method: string, hop: string): { code: number; message: string; data: JsonObject } {
    return {
      code: OUTCOMES.deadlineExceeded.jsonRpc,
      message: `deadline exceeded: no answer for ${method} within ${this.callTimeoutMs} ms (at ${hop})`,
      data: { deadline_ms: this.callTimeoutMs, hop },
    };
  }
}
