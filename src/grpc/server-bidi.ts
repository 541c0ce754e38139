/** The server's side of a bidirectional gRPC stream, as handlers of GrpcHandlers.bidi see it. */
import { frame, MessageInbox, type MessageReader } from './framing.js';
import { Status, type GrpcError, type StatusCode } from './status.js';
import type { H2Connection } from './h2/connection.js';
import type { H2Stream } from './h2/stream.js';
import { encodeHeaders } from './h2/hpack.js';
import { RESPONSE_HEADERS, statusFields } from './server-replies.js';

export interface BidiServerStream {
  /** Sends one message; resolves when flushed to the socket buffer (respects backpressure). */
  send(payload: Uint8Array): Promise<void>;
  /** Ends the call with a status. */
  end(code: StatusCode, message?: string): void;
  /** Messages are consumed as the listener takes them: the client's window follows. */
  onMessage(listener: (payload: Buffer) => void): void;
  /** Stop / resume taking messages; while paused the client stalls once the stream's window is used. */
  pause(): void;
  resume(): void;
  onEnd(listener: (err?: Error) => void): void;
  readonly closed: boolean;
}

export class ServerBidi implements BidiServerStream {
  private readonly inbox: MessageInbox;
  private endListeners: ((err?: Error) => void)[] = [];
  private ended = false;

  constructor(
    private readonly conn: H2Connection,
    private readonly stream: H2Stream,
    private readonly reader: MessageReader,
  ) {
    this.inbox = new MessageInbox((n) => conn.consumed(stream, n));
    conn.sendHeaders(stream, RESPONSE_HEADERS, false);
    stream.events = {
      onHeaders: () => undefined,
      onData: (chunk) => {
        if (this.ended) return;
        try {
          this.inbox.push(this.reader, chunk);
        } catch (e) {
          const err = e as GrpcError;
          this.end(typeof err.code === 'number' ? err.code : Status.INTERNAL, err.details ?? err.message);
        }
      },
      onBufferExhausted: (message) => this.end(Status.RESOURCE_EXHAUSTED, message),
      onEnd: () => this.finish(),
      onClose: (err) => {
        this.reader.release();
        if (err) this.inbox.clear();
        this.finish(err);
      },
    };
  }

  get closed(): boolean {
    return this.ended || this.stream.closed;
  }

  onMessage(listener: (payload: Buffer) => void): void {
    this.inbox.onMessage(listener);
  }

  pause(): void {
    this.inbox.pause();
  }

  resume(): void {
    this.inbox.resume();
  }

  onEnd(listener: (err?: Error) => void): void {
    this.endListeners.push(listener);
  }

  send(payload: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new Error('stream closed'));
    return this.conn.send(this.stream, frame(payload));
  }

  /** `number`: also ends with the status of a GrpcError, which may have been relayed from a peer. */
  end(code: number, message = ''): void {
    if (!this.stream.closed)
      this.conn.sendHeaders(this.stream, encodeHeaders(statusFields(code, message)), true);
    // The call is over: messages not read by now never will be.
    this.inbox.clear();
    this.finish();
  }

  private finish(err?: Error): void {
    if (this.ended) return;
    this.ended = true;
    const listeners = this.endListeners;
    this.endListeners = [];
    for (const l of listeners) l(err);
  }
}
