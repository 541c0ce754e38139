/**
 * Errors the channels throw themselves, part of the Channel contract (channel.ts): a delivery failure,
 * which the broker answers with code 500.
 */
import { CodedError } from '../core/errors.js';
import type { FailureKind, KnownFailure } from '../core/outcome.js';

/** The recipient has no route over this channel (no gRPC server, proxying disabled, no P2P dialer). */
export class NoRouteError extends CodedError<'ERR_NO_ROUTE'> implements KnownFailure {
  override readonly name = 'NoRouteError';
  readonly failure: FailureKind = 'noRoute';

  constructor(message: string) {
    super('ERR_NO_ROUTE', message);
  }
}

/**
 * The peer's reverse stream is gone (or its certificate is no longer pinned). `unprocessed`: the request
 * was never sent on it, so it may go once more on the peer's next stream.
 */
export class PeerDisconnectedError extends CodedError<'ERR_PEER_DISCONNECTED'> implements KnownFailure {
  override readonly name = 'PeerDisconnectedError';
  readonly failure: FailureKind = 'peerUnreachable';

  constructor(
    message = 'client disconnected',
    readonly unprocessed = false,
  ) {
    super('ERR_PEER_DISCONNECTED', message);
  }
}
