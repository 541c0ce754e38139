/**
 * Requests and responses as they travel between channels and the broker [WIRE, docs/protocol.md#messages].
 */
import type { JsonObject } from './json.js';

export interface EpsRequest {
  /** `<operator>.<method>` as given by the original caller. */
  method: string;
  params: JsonObject;
  /** The addressed ID (see address.ts); drives routing and permissions. */
  id: string;
  /**
   * The JSON-RPC id a backend receives when it is not the addressed ID: the `respond` call of an
   * asynchronous answer carries the caller application's own id (async/caller-side.ts). Never on the wire.
   */
  jsonRpcId?: string | number;
}

export interface EpsError {
  /** Usually a JsonRpcErrorCode; a code from a backend or a peer is carried as the number it is. */
  code: number;
  message: string;
  /** Absent: no data at all; null/{}: "empty" data as produced by the original. */
  data?: JsonObject | null;
}

export interface EpsResponse {
  id: string | null;
  /** Absent: no result; null: explicit empty result (local `_connectionRequest`). */
  result?: JsonObject | null;
  error?: EpsError;
}

/** Stable numeric codes used in responses and errors (JSON-RPC 2.0's, then the original's own). */
export const ErrorCodes = {
  parse: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
  brokerError: 1,
  permissionDenied: 403,
  notFound: 404,
  channelError: 500,
  reverseStreamBrokerError: -100,
  // HTTP-like codes of the proxies' control APIs (the original's).
  badRequest: 400,
  serverError: 500,
  unavailable: 503,
} as const;

/** One of the codes above; signatures that may also carry a foreign code (a backend's, a peer's) take `number`. */
export type JsonRpcErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];
