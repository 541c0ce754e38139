/** gRPC status codes (defined in core/ for the outcome table) and the error type of our gRPC layer. */
import { kindOfStatus, type FailureKind } from '../core/outcome.js';
import { Status, type StatusCode } from '../core/grpc-status.js';

export { Status, type StatusCode };

const NAMES: Record<number, string> = {
  0: 'OK',
  1: 'Canceled',
  2: 'Unknown',
  3: 'InvalidArgument',
  4: 'DeadlineExceeded',
  8: 'ResourceExhausted',
  12: 'Unimplemented',
  13: 'Internal',
  14: 'Unavailable',
};

/**
 * A gRPC call that ended with a status other than OK. Its `code` is the status on the wire (a number, not
 * a string code like our other errors, see core/errors.ts): one of ours (`StatusCode`) when we create it,
 * any number when it came from a peer (`foreign`). `failure` is its kind in core/outcome.ts.
 */
export class GrpcError extends Error {
  readonly code: number;

  /**
   * `unprocessed`: the call never reached the server's application (refused stream, beyond a GOAWAY's
   * last stream id, or a connection already closing), so it can be sent again on a new connection.
   * `replayOn`: the call was lost with its connection before any answer byte, and that connection's server
   * is this instance: a retry naming it is safe, as that server remembers calls (grpc/replay-headers.ts).
   */
  constructor(
    code: StatusCode,
    readonly details: string,
    readonly unprocessed = false,
    readonly replayOn?: string,
  ) {
    // Same text shape as grpc-go, which the original's error messages embed.
    super(`rpc error: code = ${NAMES[code] ?? `Code(${code})`} desc = ${details}`);
    this.code = code;
    this.name = 'GrpcError';
  }

  /** A status received from a peer (any number, also codes we never send). */
  static foreign(code: number, details: string): GrpcError {
    return new GrpcError(code as StatusCode, details);
  }

  get failure(): FailureKind {
    return kindOfStatus(this.code);
  }
}

/** Percent-encoding of grpc-message (gRPC over HTTP/2 spec). */
export function encodeGrpcMessage(message: string): string {
  const bytes = Buffer.from(message, 'utf8');
  let out = '';
  for (const b of bytes) {
    if (b >= 0x20 && b <= 0x7e && b !== 0x25) out += String.fromCharCode(b);
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export function decodeGrpcMessage(value: string | undefined): string {
  if (!value) return '';
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
