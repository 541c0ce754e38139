/**
 * gRPC client side: one HTTP/2 connection per peer (our own HTTP/2, h2/connection.ts) over a
 * TLS socket we create ourselves (direct TCP or a P2P tunnel), unary calls with deadlines, and
 * bidirectional streams for `ServerCall`.
 */
import type { Duplex } from 'node:stream';
import { frame, MAX_MESSAGE_BYTES, MessageInbox, MessageReader, UnaryMessage } from './framing.js';
import { decodeGrpcMessage, GrpcError, Status } from './status.js';
import { errorMessage } from '../core/errors.js';
import { classify, MAY_HAVE_BEEN_PROCESSED, OUTCOMES } from '../core/outcome.js';
import { H2Connection } from './h2/connection.js';
import { ProtocolError, StreamError } from './h2/errors.js';
import { logger } from '../core/log.js';
import type { H2Stream, StreamEvents } from './h2/stream.js';
import type { BufferBudget } from './h2/buffer-budget.js';
import { ErrorCode } from './h2/codes.js';
import { appendLiterals, encodeHeaders, type HeaderMap } from './h2/hpack.js';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import type { Deadline } from '../core/deadline.js';
import type { Cancellation } from '../core/cancellation.js';
import { DEFAULT_CLIENT_KEEPALIVE, type ClientKeepalive } from './keepalive.js';
import { encodeGrpcTimeout } from './timeout.js';
import { INSTANCE_HEADER, markFields, validInstance, type CallMark } from './replay-headers.js';

const log = logger('grpc-client');

export const USER_AGENT = 'eps-ts/0.1';
const MAX_CACHED_PATHS = 16;
/** How long calls still open may finish after close() before the connection is destroyed. */
const CLOSE_GRACE_MS = 2000;

/**
 * HTTP/2 stream errors as gRPC statuses (gRPC over HTTP/2, "Errors"): the kind decides, see
 * core/outcome.ts. A call whose connection was lost after it was sent may have been processed by the
 * peer: it is not `unprocessed`, and its message says so (callers never repeat it silently; `replayOn`
 * names the server instance whose replay memory may decide a retry, see CallMark).
 */
function toGrpcError(err: StreamError, replayOn?: string): GrpcError {
  const code = OUTCOMES[classify(err)].grpc;
  if (err.connectionLost && !err.retryable) {
    return new GrpcError(
      code,
      `${err.message}: the connection was lost after the call was sent; ${MAY_HAVE_BEEN_PROCESSED}`,
      false,
      replayOn,
    );
  }
  return new GrpcError(code, err.message, err.retryable);
}

/** Anything else that fails opening a stream is a transport failure: the peer is unreachable. */
function asGrpcError(e: unknown): GrpcError {
  if (e instanceof GrpcError) return e;
  if (e instanceof StreamError) return toGrpcError(e);
  return new GrpcError(OUTCOMES.peerUnreachable.grpc, errorMessage(e));
}

/** The status a call ends with when its caller gave up: DEADLINE_EXCEEDED or CANCELLED, by the reason's kind. */
function cancelledBy(reason: Error): GrpcError {
  return new GrpcError(OUTCOMES[classify(reason)].grpc, reason.message);
}

/** Reads grpc-status / grpc-message from response headers or trailers. */
class CallStatus {
  status?: number;
  message = '';
  take(h: HeaderMap): void {
    const s = h['grpc-status'];
    if (s === undefined) return;
    this.status = Number(s);
    this.message = decodeGrpcMessage(h['grpc-message']);
  }
}

export interface GrpcSessionOptions {
  maxMessageBytes?: number;
  keepalive?: ClientKeepalive;
  /** Time source of the keepalive pings and the connection's timers (default: the system clock; tests use a manual one). */
  clock?: Clock;
  /** The budget for unread received data shared with other connections (default: the process's). */
  sharedBudget?: BufferBudget;
}

/** An HTTP/2 connection to one peer, over an already established TLS socket. */
export class GrpcSession {
  private readonly conn: H2Connection;
  private readonly blocks = new Map<string, Buffer>();
  private readonly maxBytes: number;
  private readonly keepalive: ClientKeepalive;
  private readonly clock: Clock;
  private keepaliveTimer?: TimerHandle;
  private closedFlag = false;
  private closeListeners: (() => void)[] = [];
  /** The `eps-instance` the server's answers on this connection carry (none: an original Go peer). */
  private instance: string | undefined;

  constructor(
    readonly authority: string,
    socket: Duplex,
    options: GrpcSessionOptions = {},
  ) {
    this.maxBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    this.keepalive = options.keepalive ?? DEFAULT_CLIENT_KEEPALIVE;
    this.clock = options.clock ?? systemClock;
    this.conn = new H2Connection(socket, 'client', { clock: this.clock, sharedBudget: options.sharedBudget });
    this.conn.onClose((err) => {
      if (err instanceof ProtocolError) {
        log.warn('gRPC connection ended: the peer broke HTTP/2', { peer: authority, error: err.message });
      }
      this.markClosed();
    });
    this.scheduleKeepalive();
  }

  /** Pings every keepalive.pingIntervalMs until the session closes. */
  private scheduleKeepalive(): void {
    this.keepaliveTimer = this.clock.setTimeout(() => {
      if (this.closed) return;
      this.conn.keepalive(this.keepalive.pingTimeoutMs);
      this.scheduleKeepalive();
    }, this.keepalive.pingIntervalMs);
    this.keepaliveTimer.unref();
  }

  get closed(): boolean {
    return this.closedFlag || this.conn.closed;
  }

  onClose(listener: () => void): void {
    if (this.closedFlag) listener();
    else this.closeListeners.push(listener);
  }

  /** No new calls; open ones may finish (at most 2 s). */
  close(): void {
    this.markClosed();
    this.conn.close();
    this.clock.setTimeout(() => this.conn.destroy(), CLOSE_GRACE_MS).unref();
  }

  destroy(): void {
    this.markClosed();
    this.conn.destroy();
  }

  private markClosed(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.clock.clearTimeout(this.keepaliveTimer);
    const listeners = this.closeListeners;
    this.closeListeners = [];
    for (const l of listeners) l();
  }

  /**
   * The request header block: the fixed part is encoded once per path; the deadline and a call's mark
   * (token, retry) are appended per call.
   */
  private headerBlock(path: string, deadline?: Deadline, mark?: CallMark): Buffer {
    let block = this.blocks.get(path);
    if (!block) {
      if (this.blocks.size >= MAX_CACHED_PATHS) this.blocks.clear();
      block = encodeHeaders(
        [
          [':method', 'POST'],
          [':scheme', 'https'],
          [':path', path],
          [':authority', this.authority],
          ['content-type', 'application/grpc'],
          ['te', 'trailers'],
          ['user-agent', USER_AGENT],
        ],
        true,
      );
      this.blocks.set(path, block);
    }
    if (deadline === undefined) return block;
    const fields: [string, string][] = [['grpc-timeout', encodeGrpcTimeout(deadline.remainingMs())]];
    if (mark !== undefined) markFields(mark, fields);
    return appendLiterals(block, fields);
  }

  /**
   * Notes the server's instance from the headers of an answer: one connection has one server, so the first
   * well-formed one stays (answers without it, such as trailers-only errors, change nothing).
   */
  private noteInstance(h: HeaderMap): void {
    if (this.instance !== undefined) return;
    const instance = h[INSTANCE_HEADER];
    if (instance !== undefined && validInstance(instance)) this.instance = instance;
  }

  /**
   * One unary call; rejects with a GrpcError (non-OK status, transport failure, deadline, cancellation).
   * The peer gets the time left as `grpc-timeout`; when the deadline passes or `cancellation` fires, the
   * stream is reset with CANCEL so the peer stops working on it. A call with a `mark` whose connection is
   * lost before any byte of its answer, on a connection whose server showed its instance, fails with
   * `replayOn` set: it may be retried once with `mark.retryOf` (the server's replay memory decides) — only
   * when the peer or the transport ended the connection (EOF, reset), never after our own timeouts.
   */
  unary(
    path: string,
    payload: Uint8Array,
    deadline: Deadline,
    cancellation?: Cancellation,
    mark?: CallMark,
  ): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new GrpcError(Status.UNAVAILABLE, 'connection closed', true));
        return;
      }
      if (cancellation?.reason) {
        reject(cancelledBy(cancellation.reason));
        return;
      }
      // The answer is consumed as soon as it is complete (credit goes back at once, as on arrival).
      const response = new UnaryMessage(new MessageReader(this.maxBytes), (n) => {
        if (stream) this.conn.consumed(stream, n);
      });
      const status = new CallStatus();
      let headersSeen = false;
      let failure: GrpcError | undefined;
      let stream: H2Stream | undefined;
      const cancel = (err: GrpcError): void => {
        failure ??= err;
        if (stream) this.conn.reset(stream, ErrorCode.CANCEL, err.message);
      };
      const timer = deadline.onExpire(() =>
        cancel(new GrpcError(Status.DEADLINE_EXCEEDED, 'context deadline exceeded')),
      );
      const unsubscribe = cancellation?.onCancel((reason) => cancel(cancelledBy(reason)));
      // A retry is safe only if the original cannot arrive after it: the peer (or the transport) ended
      // the connection; after our own keepalive or write-stall timeout the original may still be on its way.
      const replayable = (err: StreamError): boolean => mark !== undefined && !headersSeen && err.lostByPeer;
      const events: StreamEvents = {
        onHeaders: (h) => {
          if (!headersSeen) {
            headersSeen = true;
            this.noteInstance(h);
            const httpStatus = h[':status'];
            if (httpStatus !== '200') {
              failure ??= new GrpcError(
                Status.UNKNOWN,
                `unexpected HTTP status code received from server: ${httpStatus}`,
              );
            }
          }
          status.take(h);
        },
        onData: (chunk) => {
          if (failure) return;
          try {
            response.push(chunk);
          } catch (e) {
            cancel(e as GrpcError);
          }
        },
        onBufferExhausted: (message) => cancel(new GrpcError(Status.RESOURCE_EXHAUSTED, message)),
        onClose: (err) => {
          deadline.cancelExpire(timer);
          unsubscribe?.();
          response.reader.release();
          if (failure) return reject(failure);
          if (err) return reject(toGrpcError(err, replayable(err) ? this.instance : undefined));
          if (status.status === undefined) {
            return reject(new GrpcError(Status.UNAVAILABLE, 'stream closed without status'));
          }
          if (status.status !== Status.OK) return reject(GrpcError.foreign(status.status, status.message));
          const message = response.single();
          if (!message) return reject(new GrpcError(Status.INTERNAL, 'expected exactly one response'));
          resolve(message);
        },
      };
      // A retry's age (eps-retry) is measured when its stream starts, not before it waits for a slot
      // (MAX_CONCURRENT_STREAMS): an age measured too early would let the server "prove" a seen original new.
      const block =
        mark?.retryOf === undefined
          ? this.headerBlock(path, deadline, mark)
          : () => this.headerBlock(path, deadline, mark);
      try {
        stream = this.conn.open(block, events, frame(payload), true);
      } catch (e) {
        deadline.cancelExpire(timer);
        unsubscribe?.();
        reject(asGrpcError(e));
      }
    });
  }

  /** Opens a bidirectional stream (no deadline: it lives as long as the connection). */
  bidi(path: string): ClientBidi {
    if (this.closed) throw new GrpcError(Status.UNAVAILABLE, 'connection closed');
    return new ClientBidi(this.conn, this.headerBlock(path), new MessageReader(this.maxBytes));
  }
}

export class ClientBidi {
  private readonly status = new CallStatus();
  private readonly stream: H2Stream;
  /** Messages count as consumed (the server gets window back) as the listener takes them. */
  private readonly inbox = new MessageInbox((n) => this.conn.consumed(this.stream, n));
  private endListeners: ((err: GrpcError | undefined) => void)[] = [];
  private done = false;

  constructor(
    private readonly conn: H2Connection,
    headerBlock: Buffer,
    private readonly reader: MessageReader,
  ) {
    // The server ends the call with trailers (or a trailers-only response); the connection then closes our
    // sending side too and reports the end through onClose.
    this.stream = conn.open(headerBlock, {
      onHeaders: (h) => this.status.take(h),
      onData: (chunk) => {
        if (this.done) return;
        try {
          this.inbox.push(this.reader, chunk);
        } catch (e) {
          const err = e as GrpcError;
          this.finish(err);
          this.conn.reset(this.stream, ErrorCode.CANCEL, err.message);
        }
      },
      onBufferExhausted: (message) => {
        this.finish(new GrpcError(Status.RESOURCE_EXHAUSTED, message));
        this.conn.reset(this.stream, ErrorCode.CANCEL, message);
      },
      onClose: (err) => {
        this.reader.release();
        if (err) return this.finish(toGrpcError(err));
        const { status, message } = this.status;
        if (status === undefined) this.finish(new GrpcError(Status.UNAVAILABLE, 'stream closed'));
        else if (status === Status.OK) this.finish(undefined);
        else this.finish(GrpcError.foreign(status, message));
      },
    });
  }

  onMessage(listener: (payload: Buffer) => void): void {
    this.inbox.onMessage(listener);
  }

  /** Stop / resume taking messages; while paused the server stalls once the stream's window is used. */
  pause(): void {
    this.inbox.pause();
  }

  resume(): void {
    this.inbox.resume();
  }

  /** Called once, with undefined for a clean end (status OK). */
  onEnd(listener: (err: GrpcError | undefined) => void): void {
    this.endListeners.push(listener);
  }

  /** Resolves at once while the stream can take more, otherwise once the message reached the socket. */
  send(payload: Uint8Array): Promise<void> {
    if (this.done || this.stream.closed) return Promise.reject(new Error('stream closed'));
    return this.conn.send(this.stream, frame(payload));
  }

  cancel(): void {
    this.conn.reset(this.stream, ErrorCode.CANCEL, 'cancelled');
    this.finish(new GrpcError(Status.CANCELLED, 'cancelled'));
  }

  private finish(err: GrpcError | undefined): void {
    if (this.done) return;
    this.done = true;
    // A failed call's unread messages are dropped; after a clean end they can still be read.
    if (err) this.inbox.clear();
    const listeners = this.endListeners;
    this.endListeners = [];
    for (const l of listeners) l(err);
  }
}
