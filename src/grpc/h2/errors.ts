/**
 * The errors of our HTTP/2 layer: ConnectionError and StreamError as RFC 9113 §5.4 scopes them, and
 * ProtocolError, what a connection's close listeners get when we ended it because of the peer.
 */
import type { ErrorCode, PeerErrorCode } from './codes.js';
import { CodedError } from '../../core/errors.js';

/** A connection-level protocol violation: the connection ends with GOAWAY carrying `code`. */
export class ConnectionError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ConnectionError';
  }
}

/**
 * Why a stream ended early: an HTTP/2 error code and a message; `retryable` if the server never processed
 * it (refused, or above a GOAWAY's last stream id), `connectionLost` if the whole connection went away,
 * `lostByPeer` if that loss was signalled by the peer or the transport (EOF, connection reset: the peer's
 * end of the connection is gone, nothing we wrote on it can still arrive) rather than decided by us (our
 * keepalive or write-stall timeout, destroy(): what we wrote may still be on its way and arrive later).
 * The code is ours (ErrorCode) or, for a reset by the peer, whatever 32-bit value it sent (PeerErrorCode).
 */
export class StreamError extends Error {
  constructor(
    readonly code: ErrorCode | PeerErrorCode,
    message: string,
    readonly retryable = false,
    readonly connectionLost = false,
    readonly lostByPeer = false,
  ) {
    super(message);
    this.name = 'StreamError';
  }
}

/** The connection was ended by us because the peer broke the protocol (or flooded us); worth a warning. */
export class ProtocolError extends CodedError<'ERR_H2_PROTOCOL'> {
  override readonly name = 'ProtocolError';

  constructor(message: string) {
    super('ERR_H2_PROTOCOL', message);
  }
}
