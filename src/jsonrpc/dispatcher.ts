/**
 * Generic JSON-RPC method dispatcher for our services (sd API, proxy control APIs, example backends)
 * [10-eps-server §5.8]: unknown method → -32601, invalid params → -32602 with the problems as data,
 * a typed MethodError → its own code/message/data, anything else → -32603.
 */
import type { z } from 'zod';
import type { JsonObject, JsonValue } from '../core/json.js';
import { logger } from '../core/log.js';
import { extractRequest } from './extract.js';
import type { IncomingJson, JsonHandler } from './http-server.js';
import { buildResponse, sendJson, sendJsonRpc } from './write.js';

const log = logger('jsonrpc');

export class MethodError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: JsonValue,
  ) {
    super(message);
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
      sendJsonRpc(incoming.res, buildResponse(undefined, { code: -32601, message: 'method not found' }, id));
      return;
    }
    const parsed = def.params.safeParse(params);
    if (!parsed.success) {
      sendJsonRpc(
        incoming.res,
        buildResponse(
          undefined,
          { code: -32602, message: 'invalid params', data: formData(parsed.error) },
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
      log.error('method failed', { method: name, error: (e as Error).message });
      sendJsonRpc(incoming.res, buildResponse(undefined, { code: -32603, message: 'internal error' }, id));
    }
  };
}
