/**
 * What our gRPC server sends back (server.ts, server-bidi.ts): response headers, a unary answer, a status
 * as trailers or as a trailers-only response, and the answer of the conformance probe.
 */
import { frame, MESSAGE_PREFIX_BYTES } from './framing.js';
import { encodeGrpcMessage, Status } from './status.js';
import type { H2Connection } from './h2/connection.js';
import type { H2Stream } from './h2/stream.js';
import { encodeHeaders } from './h2/hpack.js';

const BASE_RESPONSE_FIELDS: readonly (readonly [string, string])[] = [
  [':status', '200'],
  ['content-type', 'application/grpc'],
];
export const RESPONSE_HEADERS = encodeHeaders(BASE_RESPONSE_FIELDS, true);

/** A server's response headers with `extra` fields (e.g. `eps-instance`), encoded once per server. */
export function responseHeaders(extra: readonly (readonly [string, string])[] = []): Buffer {
  return extra.length === 0 ? RESPONSE_HEADERS : encodeHeaders([...BASE_RESPONSE_FIELDS, ...extra], true);
}
const OK_TRAILERS = encodeHeaders([['grpc-status', '0']]);

export function statusFields(code: number, message: string): [string, string][] {
  const fields: [string, string][] = [['grpc-status', String(code)]];
  if (message) fields.push(['grpc-message', encodeGrpcMessage(message)]);
  return fields;
}

/**
 * Ends a call with a gRPC status: as a trailers-only response (HTTP 200 with the status) when nothing was
 * sent yet, otherwise as trailers after the response headers already queued.
 */
export function endWithStatus(conn: H2Connection, stream: H2Stream, code: number, message: string): void {
  if (stream.closed) return;
  const status = statusFields(code, message);
  const block = stream.headersQueued
    ? encodeHeaders(status)
    : encodeHeaders([[':status', '200'], ['content-type', 'application/grpc'], ...status], true);
  conn.sendHeaders(stream, block, true);
}

/**
 * A unary answer: headers, message, trailers. An answer that does not fit in the connection's output bound
 * (MAX_CONNECTION_OUTPUT_BYTES: the client does not read what waits already) ends with RESOURCE_EXHAUSTED.
 */
export function respondUnary(
  conn: H2Connection,
  stream: H2Stream,
  payload: Uint8Array,
  headers: Buffer = RESPONSE_HEADERS,
): void {
  if (stream.closed) return;
  // Checked before framing: a refused answer costs no copy.
  const refused = conn.outputRefusal(MESSAGE_PREFIX_BYTES + payload.length);
  if (refused !== undefined) {
    return endWithStatus(conn, stream, Status.RESOURCE_EXHAUSTED, `answer not sent: ${refused}`);
  }
  conn.sendHeaders(stream, headers, false);
  conn.write(stream, frame(payload), false);
  conn.sendHeaders(stream, OK_TRAILERS, true);
}

/** The path of the conformance probe (settings: grpc_server `conformance_probe`, off by default). */
export const PROBE_PATH = '/EPS/ConformanceProbe';
const PROBE_ANSWER = Buffer.from('eps conformance probe');

/**
 * The conformance probe: once the request has ended, whatever it held (its data is dropped as it arrives),
 * one message and status OK. An HTTP/2 conformance suite sends requests without a body and needs an
 * answer that carries one, which no EPS method gives (`npm run conformance`, SECURITY.md#conformance).
 */
export function serveProbe(conn: H2Connection, stream: H2Stream): void {
  stream.events = {
    onHeaders: () => undefined,
    onData: () => undefined,
    onEnd: () => respondUnary(conn, stream, PROBE_ANSWER),
    onClose: () => undefined,
  };
}
