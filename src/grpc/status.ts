/** gRPC status codes and the error type carried through our hand-written gRPC layer. */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

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

export class GrpcError extends Error {
  /**
   * `unprocessed`: the call never reached the server's application (refused stream, beyond a GOAWAY's
   * last stream id, or a connection already closing), so it can be sent again on a new connection.
   */
  constructor(
    readonly code: number,
    readonly details: string,
    readonly unprocessed = false,
  ) {
    // Same text shape as grpc-go, which the original's error messages embed.
    super(`rpc error: code = ${NAMES[code] ?? `Code(${code})`} desc = ${details}`);
    this.name = 'GrpcError';
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
