/**
 * Generic JSON-RPC method dispatcher for our services (sd API, proxy control APIs, example backends)
 * [docs/protocol.md#errors]: unknown method → -32601, invalid params → -32602 with the problems as data,
 * a typed MethodError → its own code/message/data, anything else → -32603.
 */
import type { z } from 'zod';
import type { JsonObject, JsonValue } from '../core/json.js';
import { errorMessage } from '../core/errors.js';
import { logger } from '../core/log.js';
import { ErrorCodes, type JsonRpcErrorCode } from '../core/messages.js';
import { extractRequest } from './extract.js';
import type { IncomingJson, JsonHandler } from './http-server.js';
import { buildResponse, sendJson, sendJsonRpc } from './write.js';

const log = logger('jsonrpc');

/**
 * A method's failure, answered as a JSON-RPC error. Its `code` is the number on the wire (not a string
 * code like our other errors, see core/errors.ts): one of ours (JsonRpcErrorCode), or any number for a
 * code that is not ours (`foreign`): an application's own codes, or another server's error passed on.
 */
export class MethodError extends Error {
  readonly code: number;

  constructor(
    code: JsonRpcErrorCode,
    message: string,
    readonly data?: JsonValue,
  ) {
    super(message);
    this.code = code;
  }

  /** A code that is not one of ours: an application's own, or relayed from another server. */
  static foreign(code: number, message: string, data?: JsonValue): MethodError {
    return new MethodError(code as JsonRpcErrorCode, message, data);
  }
}

export interface MethodContext {
  incoming: IncomingJson;
  id: JsonValue;
}

export interface MethodDefinition<S extends z.ZodType = z.ZodType> {
  params: S;
  handler: (
    params: z.output<S>,
    ctx: MethodContext,
  ) => Promise<JsonValue | undefined> | JsonValue | undefined;
}

export function method<S extends z.ZodType>(
  params: S,
  handler: (
    params: z.output<S>,
    ctx: MethodContext,
  ) => Promise<JsonValue | undefined> | JsonValue | undefined,
): MethodDefinition<S> {
  return { params, handler };
}

function formData(error: z.ZodError): JsonObject {
  const data: JsonObject = {};
  for (const issue of error.issues) data[issue.path.join('.') || 'params'] = issue.message;
  return data;
}

export function dispatcher(methods: Record<string, MethodDefinition>): JsonHandler {
  return async (incoming) => {
    const extracted = extractRequest(incoming.req.headers['content-type'], incoming.body);
    if (!extracted.ok) {
      sendJson(incoming.res, extracted.status, extracted.body);
      return;
    }
    const { method: name, params } = extracted.request;
    const id: JsonValue = extracted.request.id ?? null;
    const def = Object.hasOwn(methods, name) ? methods[name] : undefined;
    if (!def) {
      sendJsonRpc(
        incoming.res,
        buildResponse(undefined, { code: ErrorCodes.methodNotFound, message: 'method not found' }, id),
      );
      return;
    }
    const parsed = def.params.safeParse(params);
    if (!parsed.success) {
      sendJsonRpc(
        incoming.res,
        buildResponse(
          undefined,
          { code: ErrorCodes.invalidParams, message: 'invalid params', data: formData(parsed.error) },
          id,
        ),
      );
      return;
    }
    try {
      const result = await def.handler(parsed.data, { incoming, id });
      sendJsonRpc(incoming.res, buildResponse(result, undefined, id));
    } catch (e) {
      if (e instanceof MethodError) {
        const err =
          e.data === undefined
            ? { code: e.code, message: e.message }
            : { code: e.code, message: e.message, data: e.data };
        sendJsonRpc(incoming.res, buildResponse(undefined, err, id));
        return;
      }
      log.error('method failed', { method: name, error: errorMessage(e) });
      const code = ErrorCodes.internal;
      sendJsonRpc(incoming.res, buildResponse(undefined, { code, message: 'internal error' }, id));
    }
  };
}
