/** One HTTP/2 stream's state and the callbacks through which a connection reports what happens on it. */
import { DEFAULT_WINDOW } from './frames.js';
import type { HeaderMap } from './hpack.js';
import { STREAM_WINDOW } from './limits.js';

/**
 * Why a stream ended early: an HTTP/2 error code and a message; `retryable` if the server never processed
 * it (refused, or above a GOAWAY's last stream id), `connectionLost` if the whole connection went away.
 */
export class StreamError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly retryable = false,
    readonly connectionLost = false,
  ) {
    super(message);
    this.name = 'StreamError';
  }
}

export interface StreamEvents {
  /** A header block from the peer: response headers then trailers (client), or trailers (server). */
  onHeaders(headers: HeaderMap, endStream: boolean): void;
  onData(chunk: Buffer): void;
  /** The peer ended its side of the stream (END_STREAM); the stream may still be open on ours. */
  onEnd?(): void;
  /** Exactly once: undefined when both sides ended normally. */
  onClose(error?: StreamError): void;
}

export interface Outgoing {
  data: Buffer;
  end: boolean;
  /** A header block (not flow-controlled) rather than data. */
  headers?: boolean;
  done?: (err?: Error) => void;
}

export const NO_EVENTS: StreamEvents = {
  onHeaders: () => undefined,
  onData: () => undefined,
  onClose: () => undefined,
};

export class H2Stream {
  id = 0;
  /** Request headers (server side). */
  requestHeaders?: HeaderMap;
  /** A header block of ours is queued or sent: a later one can only be trailers. */
  headersQueued = false;
  sendWindow = DEFAULT_WINDOW;
  recvWindow = STREAM_WINDOW;
  recvUnacked = 0;
  localEnded = false;
  remoteEnded = false;
  closed = false;
  readonly queue: Outgoing[] = [];
  queuedBytes = 0;

  constructor(
    readonly headerBlock: Buffer,
    public events: StreamEvents,
  ) {}
}
