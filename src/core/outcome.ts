/**
 * One table of failures: for each kind of failure, the code every surface answers with — the JSON-RPC
 * error code, the code in an answer on a reverse (ServerCall) stream, the gRPC status and the HTTP/2
 * stream code. `classify` turns anything thrown (our errors, Node socket and TLS errors, HTTP/2 resets,
 * gRPC statuses from peers) into a kind. Channels, the gateway and the gRPC layer look codes up here
 * instead of choosing them at the call site.
 *
 * The values reproduce the original's wire exactly, which is why some columns look coarse: the original
 * answers every broker failure with code 1 at the gateway, UNKNOWN on gRPC and -100 on reverse streams,
 * and every failure inside a channel with an error response of code 500 (broker.ts keeps that rule for
 * any kind; the kinds that only arise inside channels therefore say 500 here too).
 */
import { Status, type StatusCode } from './grpc-status.js';
import { ErrorCodes, type JsonRpcErrorCode } from './messages.js';

/**
 * Said by the error of every call that was sent and then lost without an answer (connection, tunnel or
 * reverse stream gone): the peer may have processed it, so it is never sent again silently.
 */
export const MAY_HAVE_BEEN_PROCESSED = 'it may have been processed by the peer (not retried)';

/**
 * Said by the error of a retry that the callee refused to run because it cannot prove that it never
 * processed the original (its replay memory, channels/replay-memory.ts).
 */
export const MAY_HAVE_BEEN_PROCESSED_NOT_RUN = 'it may have been processed by the peer (not run again)';

export type FailureKind =
  /** The caller may not call this method (directory permissions). */
  | 'permissionDenied'
  /** The broker refused the request: unknown caller or recipient entry, bad ID, loop, relay limit. */
  | 'rejected'
  /** A channel took the request but has no way to the recipient (no gRPC server, proxying disabled). */
  | 'noRoute'
  /** The client name a peer claims is none of the identities its certificate is pinned for. */
  | 'unknownClient'
  /** TLS failed or the peer's certificate is not pinned for any identity. */
  | 'unauthenticated'
  /** No connection to the peer, or the connection was lost. */
  | 'peerUnreachable'
  | 'deadlineExceeded'
  | 'cancelled'
  /** The peer sent something malformed (message, frame, status). */
  | 'protocolViolation'
  /** The backend (or a remote broker) failed, or its answer cannot be carried. */
  | 'backendError'
  /** A limit was reached: in-flight requests, streams, message size, flood protection. */
  | 'resourceExhausted'
  /** A failure of our own (a bug, an unexpected exception). */
  | 'internal';

/**
 * RFC 9113 §7 error codes by name. core/ cannot import grpc/h2/codes.ts (ErrorCode, the full set);
 * the grpc layer turns a name into its number there, and test/unit/outcome.test.ts checks the names.
 */
export type StreamCodeName =
  'PROTOCOL_ERROR' | 'INTERNAL_ERROR' | 'REFUSED_STREAM' | 'CANCEL' | 'ENHANCE_YOUR_CALM';

export interface Outcome {
  /** Code of the error response a local application or a calling peer receives. */
  readonly jsonRpc: JsonRpcErrorCode;
  /** Code of the error answer the dialling side sends on a reverse stream. */
  readonly reverseStream: JsonRpcErrorCode;
  /** Status that ends a gRPC call (or stream) failing with this kind. */
  readonly grpc: StatusCode;
  /** Code of an RST_STREAM sent for this kind (gRPC over HTTP/2's mapping where it names one). */
  readonly stream: StreamCodeName;
}

const C = ErrorCodes;
const inChannel = { jsonRpc: C.channelError, reverseStream: C.reverseStreamBrokerError } as const;

export const OUTCOMES: Readonly<Record<FailureKind, Outcome>> = {
  permissionDenied: {
    jsonRpc: C.permissionDenied,
    reverseStream: C.permissionDenied,
    grpc: Status.UNKNOWN,
    stream: 'INTERNAL_ERROR',
  },
  rejected: {
    jsonRpc: C.brokerError,
    reverseStream: C.reverseStreamBrokerError,
    grpc: Status.UNKNOWN,
    stream: 'INTERNAL_ERROR',
  },
  noRoute: { ...inChannel, grpc: Status.UNAVAILABLE, stream: 'REFUSED_STREAM' },
  unknownClient: {
    jsonRpc: C.notFound,
    reverseStream: C.notFound,
    grpc: Status.UNKNOWN,
    stream: 'INTERNAL_ERROR',
  },
  unauthenticated: { ...inChannel, grpc: Status.UNAVAILABLE, stream: 'INTERNAL_ERROR' },
  peerUnreachable: { ...inChannel, grpc: Status.UNAVAILABLE, stream: 'REFUSED_STREAM' },
  deadlineExceeded: { ...inChannel, grpc: Status.DEADLINE_EXCEEDED, stream: 'CANCEL' },
  cancelled: { ...inChannel, grpc: Status.CANCELLED, stream: 'CANCEL' },
  protocolViolation: { ...inChannel, grpc: Status.INTERNAL, stream: 'PROTOCOL_ERROR' },
  backendError: { ...inChannel, grpc: Status.UNKNOWN, stream: 'INTERNAL_ERROR' },
  resourceExhausted: { ...inChannel, grpc: Status.RESOURCE_EXHAUSTED, stream: 'ENHANCE_YOUR_CALM' },
  internal: {
    jsonRpc: C.internal,
    reverseStream: C.reverseStreamBrokerError,
    grpc: Status.INTERNAL,
    stream: 'INTERNAL_ERROR',
  },
};

export const FAILURE_KINDS = Object.keys(OUTCOMES) as readonly FailureKind[];

/** Our own errors that know their kind carry it as `failure` (see CodedError in errors.ts). */
export interface KnownFailure {
  readonly failure: FailureKind;
}

/** The kind of a gRPC status received from a peer (any number). */
export function kindOfStatus(status: number): FailureKind {
  switch (status) {
    case Status.CANCELLED:
      return 'cancelled';
    case Status.DEADLINE_EXCEEDED:
      return 'deadlineExceeded';
    case Status.RESOURCE_EXHAUSTED:
      return 'resourceExhausted';
    case Status.UNAVAILABLE:
      return 'peerUnreachable';
    case Status.INVALID_ARGUMENT:
    case Status.UNIMPLEMENTED:
      return 'protocolViolation';
    case Status.INTERNAL:
      return 'internal';
    default:
      // UNKNOWN is what a remote broker's or backend's failure arrives as; unknown numbers too.
      return 'backendError';
  }
}

/** RFC 9113 §7 codes that classify a reset (the rest are protocol violations). */
const CANCEL = 0x8;
const ENHANCE_YOUR_CALM = 0xb;

/**
 * An HTTP/2 stream that ended early (grpc/h2/errors.ts's StreamError): never processed or connection lost → the
 * peer is unreachable (the call may go again on a new connection); CANCEL → cancelled; ENHANCE_YOUR_CALM
 * → resource exhausted; anything else → protocol violation (gRPC over HTTP/2, "Errors").
 */
export function kindOfReset(code: number, unprocessed: boolean, connectionLost: boolean): FailureKind {
  if (unprocessed || connectionLost) return 'peerUnreachable';
  if (code === CANCEL) return 'cancelled';
  if (code === ENHANCE_YOUR_CALM) return 'resourceExhausted';
  return 'protocolViolation';
}

/** Node's error codes of sockets and DNS that mean "no usable connection to the peer". */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_DESTROYED',
]);

/** The kind of a Node error by its `code` (socket, DNS, TLS, certificate verification, abort). */
export function kindOfNodeCode(code: string): FailureKind | undefined {
  if (UNREACHABLE_CODES.has(code)) return 'peerUnreachable';
  if (code === 'ABORT_ERR') return 'cancelled';
  // ERR_TLS_* (Node's TLS layer), ERR_SSL_* (OpenSSL), and OpenSSL's certificate verification codes.
  if (/^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_)/.test(code)) return 'unauthenticated';
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN')
    return 'unauthenticated';
  return undefined;
}

const MAX_CAUSE_DEPTH = 4;

function isKind(value: unknown): value is FailureKind {
  return typeof value === 'string' && Object.hasOwn(OUTCOMES, value);
}

/**
 * The one place that decides what kind of failure something thrown is: our errors by their `failure`,
 * HTTP/2 stream errors by reset code, Node errors by `code`, otherwise their `cause`; never by message.
 */
export function classify(e: unknown): FailureKind {
  let current: unknown = e;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && current instanceof Error; depth++) {
    const fields = current as Error & { failure?: unknown; code?: unknown };
    if (isKind(fields.failure)) return fields.failure;
    if (current.name === 'StreamError' && typeof fields.code === 'number') {
      const reset = current as Error & { retryable?: boolean; connectionLost?: boolean };
      return kindOfReset(fields.code, reset.retryable === true, reset.connectionLost === true);
    }
    if (typeof fields.code === 'string') {
      const kind = kindOfNodeCode(fields.code);
      if (kind) return kind;
    }
    current = current.cause;
  }
  return 'internal';
}
