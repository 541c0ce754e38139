/**
 * JSON-RPC response bodies with the original's key order and status rules [WIRE,
 * docs/protocol.md#gateway-responses].
 */
import type { ServerResponse } from 'node:http';
import type { JsonValue } from '../core/json.js';
import { ErrorCodes } from '../core/messages.js';

export interface JsonRpcErrorBody {
  /** One of ErrorCodes, or a backend's or peer's code passed on unchanged (any number). */
  code: number;
  message: string;
  data?: JsonValue;
}

export interface JsonRpcResponseBody {
  jsonrpc: string;
  result?: JsonValue;
  error?: JsonRpcErrorBody;
  id: JsonValue;
}

/** Escape <, > and & like Go's encoder does (keeps replies safe to embed in HTML). */
const NEEDS_ESCAPE = /[<>&\u2028\u2029]/;

export function encodeJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(/[<>&\u2028\u2029]/g, (c) => {
    switch (c) {
      case '<':
        return '\\u003c';
      case '>':
        return '\\u003e';
      case '&':
        return '\\u0026';
      case '\u2028':
        return '\\u2028';
      default:
        return '\\u2029';
    }
  });
}

export function buildResponse(
  result: JsonValue | undefined,
  error: JsonRpcErrorBody | undefined,
  id: JsonValue,
  version = '2.0',
): JsonRpcResponseBody {
  const body: JsonRpcResponseBody = { jsonrpc: version } as JsonRpcResponseBody;
  if (result !== undefined && error === undefined) body.result = result;
  if (error !== undefined) {
    const e: JsonRpcErrorBody = { code: error.code, message: error.message };
    if (error.data !== undefined) e.data = error.data;
    body.error = e;
  }
  body.id = id;
  return body;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  let text: string;
  try {
    text = encodeJson(body);
  } catch {
    status = 500;
    text = '{"message":"internal server error"}';
  }
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** 400 whenever the body carries an error, 200 otherwise. */
export function sendJsonRpc(res: ServerResponse, body: JsonRpcResponseBody): void {
  sendJson(res, body.error ? 400 : 200, body);
}

/** The original's malformed-request reply, with its literal "2.0," version string. */
export const JSON_REQUIRED = buildResponse(
  undefined,
  { code: ErrorCodes.parse, message: 'JSON required' },
  null,
  '2.0,',
);
