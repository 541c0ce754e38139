/**
 * Extraction and validation of a JSON-RPC request body at a server [WIRE, docs/protocol.md#gateway-request].
 * Returns either the request or the exact error reply the original gives.
 */
import { isJsonObject, type JsonObject, type JsonValue } from '../core/json.js';
import { logger } from '../core/log.js';
import { ErrorCodes } from '../core/messages.js';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from './json-depth.js';
import { buildResponse, JSON_REQUIRED, type JsonRpcResponseBody } from './write.js';
import type { JsonRpcId } from './ids.js';

export interface JsonRpcRequest {
  method: string;
  params: JsonObject;
  /** undefined when absent, null or "" (treated alike). */
  id: JsonRpcId | undefined;
}

export type Extracted =
  { ok: true; request: JsonRpcRequest } | { ok: false; status: number; body: JsonRpcResponseBody };

const log = logger('jsonrpc');

const JSON_CONTENT_TYPE = /^application\/json(;.*)?$/i;
export const MAX_METHOD_LENGTH = 100;
export const MAX_STRING_ID_LENGTH = 1024;

export function isJsonContentType(value: string | undefined): boolean {
  return value !== undefined && JSON_CONTENT_TYPE.test(value);
}

function validationError(fields: [string, string][]): Extracted {
  const reason = 'invalid input data: ' + fields.map(([f, r]) => `${f}(${r})`).join(', ');
  const data: JsonObject = {};
  for (const [f, r] of fields) data[f] = r;
  const body = buildResponse(
    undefined,
    {
      code: ErrorCodes.invalidRequest,
      message: `invalid request: ${reason}`,
      data: { message: reason, code: 'FORM-ERROR', data, traceback: [] },
    },
    null,
    '2.0,',
  );
  return { ok: false, status: 400, body };
}

/** A body nested deeper than MAX_JSON_DEPTH: refused before parsing (see json-depth.ts). */
function tooDeep(): Extracted {
  const message = `invalid request: JSON nested too deep (limit ${MAX_JSON_DEPTH} levels)`;
  log.warn('request nested too deep, refused', { limit: MAX_JSON_DEPTH });
  return {
    ok: false,
    status: 400,
    body: buildResponse(undefined, { code: ErrorCodes.invalidRequest, message }, null),
  };
}

function validateId(id: JsonValue | undefined): { id?: JsonRpcId; error?: string } {
  if (id === undefined || id === null || id === '') return {};
  if (typeof id === 'string') {
    if (Buffer.byteLength(id) > MAX_STRING_ID_LENGTH) return { error: 'no possible option worked out' };
    return { id };
  }
  if (typeof id === 'number' && Number.isInteger(id) && id >= -2147483648 && id <= 2147483647) return { id };
  return { error: 'no possible option worked out' };
}

export function extractRequest(contentType: string | undefined, body: Buffer): Extracted {
  if (!isJsonContentType(contentType)) return { ok: false, status: 400, body: JSON_REQUIRED };
  const text = body.toString('utf8');
  if (exceedsJsonDepth(text)) return tooDeep();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, status: 400, body: JSON_REQUIRED };
  }
  if (parsed !== null && !isJsonObject(parsed)) return { ok: false, status: 400, body: JSON_REQUIRED };
  const obj: JsonObject = parsed ?? {};

  const errors: [string, string][] = [];
  const { jsonrpc, method, params } = obj;
  if (jsonrpc === undefined || jsonrpc === null) errors.push(['jsonrpc', 'is required']);
  else if (typeof jsonrpc !== 'string') errors.push(['jsonrpc', 'expected a string']);
  else if (jsonrpc !== '2.0') errors.push(['jsonrpc', 'invalid choice, must be one of: 2.0']);
  if (method === undefined || method === null) errors.push(['method', 'is required']);
  else if (typeof method !== 'string') errors.push(['method', 'expected a string']);
  else if (method.length < 1) errors.push(['method', 'must be at least 1 characters long']);
  else if (Buffer.byteLength(method) > MAX_METHOD_LENGTH) {
    errors.push(['method', `must be at most ${MAX_METHOD_LENGTH} characters long`]);
  }
  if (!isJsonObject(params)) errors.push(['params', 'not a map']);
  const id = validateId(obj.id);
  if (id.error) errors.push(['id', id.error]);
  if (errors.length > 0) return validationError(errors);
  return { ok: true, request: { method: method as string, params: params as JsonObject, id: id.id } };
}
