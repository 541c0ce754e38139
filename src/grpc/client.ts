/**
 * gRPC client side on node:http2: one HTTP/2 session per peer over a TLS socket we create ourselves (direct
 * TCP or a P2P tunnel), unary calls with deadlines, and bidirectional streams for `ServerCall`.
 */
import http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { frame, MAX_MESSAGE_BYTES, MessageReader, onMessages, writeMessage } from './framing.js';
import { decodeGrpcMessage, GrpcError, Status } from './status.js';

export const USER_AGENT = 'eps-ts/0.1';
/** Client keepalive [10-eps-server §7.4]: ping every 30 s, give up after 20 s without an answer. */
export const KEEPALIVE_INTERVAL_MS = 30_000;
export const KEEPALIVE_TIMEOUT_MS = 20_000;

/** An HTTP/2 session to one peer, over an already established TLS socket. */
export class GrpcSession {
  readonly session: http2.ClientHttp2Session;
  private keepalive?: NodeJS.Timeout;
  private closedFlag = false;
  private closeListeners: (() => void)[] = [];

  constructor(
    readonly authority: string,
    socket: TLSSocket,
    private readonly maxBytes = MAX_MESSAGE_BYTES,
  ) {
    this.session = http2.connect(`https://${authority}`, {
      createConnection: () => socket,
      settings: { enablePush: false },
      maxSessionMemory: 64,
    });
    this.session.on('error', () => this.markClosed());
    this.session.on('close', () => this.markClosed());
    this.session.on('goaway', () => this.markClosed());
    socket.on('close', () => this.markClosed());
    this.keepalive = setInterval(() => this.ping(), KEEPALIVE_INTERVAL_MS);
    this.keepalive.unref();
  }

  get closed(): boolean {
    return this.closedFlag || this.session.closed || this.session.destroyed;
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  close(): void {
    this.markClosed();
    this.session.close();
    setTimeout(() => this.session.destroy(), 2000).unref();
  }

  destroy(): void {
    this.markClosed();
    this.session.destroy();
  }

  private ping(): void {
    if (this.closed) return;
    const timer = setTimeout(() => this.destroy(), KEEPALIVE_TIMEOUT_MS);
    const sent = this.session.ping((err) => {
      clearTimeout(timer);
      if (err) this.destroy();
    });
    if (!sent) {
      clearTimeout(timer);
      this.destroy();
    }
  }

  private markClosed(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (this.keepalive) clearInterval(this.keepalive);
    const listeners = this.closeListeners;
    this.closeListeners = [];
    for (const l of listeners) l();
  }

  private headers(path: string, timeoutMs?: number): http2.OutgoingHttpHeaders {
    const h: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': path,
      ':scheme': 'https',
      ':authority': this.authority,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': USER_AGENT,
    };
    if (timeoutMs !== undefined) h['grpc-timeout'] = `${Math.max(1, Math.ceil(timeoutMs))}m`;
    return h;
  }

  /** One unary call; rejects with a GrpcError (non-OK status, transport failure, deadline). */
  unary(path: string, payload: Uint8Array, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new GrpcError(Status.UNAVAILABLE, 'connection closed'));
        return;
      }
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.session.request(this.headers(path, timeoutMs), { endStream: false });
      } catch (e) {
        reject(new GrpcError(Status.UNAVAILABLE, (e as Error).message));
        return;
      }
      const reader = new MessageReader(this.maxBytes);
      const messages: Buffer[] = [];
      let status: number | undefined;
      let statusMessage = '';
      let failure: GrpcError | undefined;
      const timer = setTimeout(() => {
        failure = new GrpcError(Status.DEADLINE_EXCEEDED, 'context deadline exceeded');
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }, timeoutMs);
      const takeStatus = (h: http2.IncomingHttpHeaders): void => {
        if (h['grpc-status'] !== undefined) {
          status = Number(h['grpc-status']);
          statusMessage = decodeGrpcMessage(h['grpc-message'] as string | undefined);
        }
      };
      stream.on('response', (h) => {
        const httpStatus = h[':status'];
        if (httpStatus !== 200) {
          failure = new GrpcError(
            Status.UNKNOWN,
            `unexpected HTTP status code received from server: ${httpStatus}`,
          );
        }
        takeStatus(h);
      });
      let settled = false;
      // Settles as soon as the status is known (trailers), not one tick later on 'close'.
      const settle = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (failure) return reject(failure);
        if (status === undefined) {
          return reject(new GrpcError(Status.UNAVAILABLE, 'stream closed without status'));
        }
        if (status !== Status.OK) return reject(new GrpcError(status, statusMessage));
        if (messages.length !== 1 || reader.pendingBytes !== 0) {
          return reject(new GrpcError(Status.INTERNAL, 'expected exactly one response'));
        }
        resolve(messages[0]!);
      };
      stream.on('trailers', (h) => {
        takeStatus(h);
        settle();
      });
      stream.on('data', (chunk: Buffer) => {
        if (failure) return;
        try {
          messages.push(...reader.push(chunk));
        } catch (e) {
          failure = e as GrpcError;
          stream.close(http2.constants.NGHTTP2_CANCEL);
        }
      });
      stream.on('error', (err) => {
        failure ??= new GrpcError(Status.UNAVAILABLE, err.message);
      });
      stream.on('close', settle);
      stream.end(frame(payload));
    });
  }

  /** Opens a bidirectional stream (no deadline: it lives as long as the connection). */
  bidi(path: string): ClientBidi {
    return new ClientBidi(this.session.request(this.headers(path), { endStream: false }), this.maxBytes);
  }
}

export class ClientBidi {
  private readonly reader: MessageReader;
  private status?: number;
  private statusMessage = '';
  private endListeners: ((err: GrpcError | undefined) => void)[] = [];
  private done = false;

  constructor(
    private readonly stream: http2.ClientHttp2Stream,
    maxBytes: number,
  ) {
    this.reader = new MessageReader(maxBytes);
    const take = (h: http2.IncomingHttpHeaders): void => {
      if (h['grpc-status'] !== undefined) {
        this.status = Number(h['grpc-status']);
        this.statusMessage = decodeGrpcMessage(h['grpc-message'] as string | undefined);
      }
    };
    // The server ends the call with trailers (or a trailers-only response); our sending side is then
    // closed too, otherwise the half-open stream would never report its end.
    const ended = (): void => {
      this.finishWithStatus();
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    };
    stream.on('response', (h) => {
      take(h);
      if (this.status !== undefined) ended();
    });
    stream.on('trailers', (h) => {
      take(h);
      ended();
    });
    stream.on('error', (err) => this.finish(new GrpcError(Status.UNAVAILABLE, err.message)));
    stream.on('close', () => this.finishWithStatus());
  }

  private finishWithStatus(): void {
    if (this.status === undefined) this.finish(new GrpcError(Status.UNAVAILABLE, 'stream closed'));
    else if (this.status === Status.OK) this.finish(undefined);
    else this.finish(new GrpcError(this.status, this.statusMessage));
  }

  onMessage(listener: (payload: Buffer) => void): void {
    onMessages(this.stream, this.reader, listener, (err) => {
      this.finish(err);
      this.stream.close(http2.constants.NGHTTP2_CANCEL);
    });
  }

  /** Called once, with undefined for a clean end (status OK). */
  onEnd(listener: (err: GrpcError | undefined) => void): void {
    this.endListeners.push(listener);
  }

  send(payload: Uint8Array): Promise<void> {
    if (this.done || this.stream.destroyed) return Promise.reject(new Error('stream closed'));
    return writeMessage(this.stream, payload);
  }

  cancel(): void {
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.finish(new GrpcError(Status.CANCELLED, 'cancelled'));
  }

  private finish(err: GrpcError | undefined): void {
    if (this.done) return;
    this.done = true;
    const listeners = this.endListeners;
    this.endListeners = [];
    for (const l of listeners) l(err);
  }
}
