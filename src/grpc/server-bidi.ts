/** The server's side of a bidirectional gRPC stream, as handlers of GrpcHandlers.bidi see it. */
import { frame, MessageInbox, type MessageReader } from './framing.js';
import type { GrpcError, StatusCode } from './status.js';
import { Status } from './status.js';
import type { H2Connection } from './h2/connection.js';
import type { H2Stream } from './h2/stream.js';
import { encodeHeaders } from './h2/hpack.js';
import { RESPONSE_HEADERS, statusFields } from './server-replies.js';

export interface BidiServerStream {
  /** Sends one message; resolves when flushed to the socket buffer (respects backpressure). */
  send(payload: Uint8Array): Promise<void>;
  /** Ends the call with a status. */
  end(code: StatusCode, message?: string): void;
  onMessage(listener: (payload: Buffer) => void): void;
  onEnd(listener: (err?: Error) => void): void;
  readonly closed: boolean;
}

export class ServerBidi implements BidiServerStream {
  private readonly inbox = new MessageInbox();
  private endListeners: ((err?: Error) => void)[] = [];
  private ended = false;

  constructor(
    private readonly conn: H2Connection,
    private readonly stream: H2Stream,
    private readonly reader: MessageReader,
  ) {
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
      onEnd: () => this.finish(),
      onClose: (err) => {
        this.reader.release();
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
