/** One HTTP/2 stream's state and the callbacks through which a connection reports what happens on it. */
import type { StreamError } from './errors.js';
import { DEFAULT_WINDOW } from './frames.js';
import { FlowWindow } from './flow-control.js';
import type { HeaderMap } from './hpack.js';
import { STREAM_WINDOW } from './limits.js';

export interface StreamEvents {
  /** A header block from the peer: response headers then trailers (client), or trailers (server). */
  onHeaders(headers: HeaderMap, endStream: boolean): void;
  /**
   * Received data, to be reported through H2Connection.consumed() as the application takes it: the
   * stream's window (and the buffer budgets) are given back only then.
   */
  onData(chunk: Buffer): void;
  /**
   * This stream's data did not fit the connection's or the process's buffer budget (`message` says which):
   * the user ends the stream (RESOURCE_EXHAUSTED); more data on it is dropped. Without this callback the
   * stream is reset with ENHANCE_YOUR_CALM.
   */
  onBufferExhausted?(message: string): void;
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

/**
 * A request header block, or a function that builds it when the stream actually starts (after waiting
 * for a slot under MAX_CONCURRENT_STREAMS): for header values that must be current when they are sent.
 */
export type HeaderSource = Buffer | (() => Buffer);

export const NO_EVENTS: StreamEvents = {
  onHeaders: () => undefined,
  onData: () => undefined,
  onClose: () => undefined,
};

/**
 * RFC 9113 §5.1 without the reserved states (push is disabled). "idle": a call of ours waiting for a
 * stream id (MAX_CONCURRENT_STREAMS); "half-closed-local": our END_STREAM went out; "half-closed-remote":
 * the peer's arrived. When both have, the connection closes the stream.
 */
export type StreamState = 'idle' | 'open' | 'half-closed-local' | 'half-closed-remote' | 'closed';

export class H2Stream {
  id = 0;
  private current: StreamState = 'idle';
  /** Request headers (server side). */
  requestHeaders?: HeaderMap;
  /** Body bytes still due by the content-length of the request (server) or response (client); -1: none. */
  bodyLeft = -1;
  /** Client side: the final (non-1xx) response headers arrived; a later header block is trailers. */
  headersReceived = false;
  /** A header block of ours is queued or sent: a later one can only be trailers. */
  headersQueued = false;
  /** Both directions of this stream's flow control; we grant the peer STREAM_WINDOW. */
  readonly flow = new FlowWindow(STREAM_WINDOW);
  /** Received data not yet consumed by the application (what it holds of the stream's window). */
  unconsumed = 0;
  /** The part of `unconsumed` charged to the buffer budgets (data consumed on delivery never is). */
  charged = 0;
  /** The budget refused this stream's data: what still arrives is dropped. */
  overBudget = false;
  readonly queue: Outgoing[] = [];
  queuedBytes = 0;

  constructor(
    /** Our request header block (client side), or what builds it when the stream starts (HeaderSource). */
    readonly headerBlock: HeaderSource,
    public events: StreamEvents,
  ) {}

  get state(): StreamState {
    return this.current;
  }

  get closed(): boolean {
    return this.current === 'closed';
  }

  /** Our END_STREAM went out, or the stream is gone: nothing more can be sent on it. */
  get localEnded(): boolean {
    return this.current === 'half-closed-local' || this.current === 'closed';
  }

  /**
   * `bytes` of DATA arrived (`end`: the last): false when they break the declared content-length, more
   * than it or, at the end, less (RFC 9113 §8.1.1).
   */
  countBody(bytes: number, end: boolean): boolean {
    if (this.bodyLeft < 0) return true;
    this.bodyLeft -= bytes;
    return this.bodyLeft >= 0 && !(end && this.bodyLeft > 0);
  }

  // ---- transitions ----

  /** idle -> open, under `id`, when HEADERS are sent or received; the peer's window applies from now. */
  open(id: number, peerInitialWindow: number): void {
    this.id = id;
    this.current = 'open';
    // The send window started at the protocol's default; SETTINGS_INITIAL_WINDOW_SIZE replaces it.
    this.flow.creditSend(peerInitialWindow - DEFAULT_WINDOW);
  }

  /** Our END_STREAM went out. True when the peer's side had ended too: the caller closes the stream. */
  endLocal(): boolean {
    if (this.current === 'half-closed-remote') return true;
    this.current = 'half-closed-local';
    return false;
  }

  /** The peer's END_STREAM arrived. True when our side had ended too: the caller closes the stream. */
  endRemote(): boolean {
    if (this.current === 'half-closed-local') return true;
    this.current = 'half-closed-remote';
    return false;
  }

  /** Any state -> closed; false if it was closed already. */
  close(): boolean {
    if (this.current === 'closed') return false;
    this.current = 'closed';
    return true;
  }
}
