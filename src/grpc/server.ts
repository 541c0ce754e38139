/**
 * A small gRPC server on our own HTTP/2 implementation (h2/connection.ts) over TLS we control: after every
 * handshake the client is checked by the one verifier of TLS peers (verifyPeer, tls/pinned-peer.ts), and a
 * connection it refuses is closed before a single call is served [WIRE, docs/protocol.md#identity-by-pinning]. A unary answer (headers,
 * message, trailers) leaves in one write. Sockets dialled out for P2P can be injected and are then served as
 * if they had been accepted (we act as TLS server on them).
 */
import { EventEmitter } from 'node:events';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { logger } from '../core/log.js';
import { listenOn } from '../net/listen.js';
import { baseContextOptions, type LoadedTls } from '../tls/options.js';
import {
  PinnedPeer,
  recheckPeer,
  refuseSession,
  verifyPeer,
  type DirectoryLookup,
} from '../tls/pinned-peer.js';
import { MAX_MESSAGE_BYTES, MessageReader, UnaryMessage } from './framing.js';
import { GrpcError, Status } from './status.js';
import { H2Connection } from './h2/connection.js';
import { ProtocolError, StreamError } from './h2/errors.js';
import type { H2Stream } from './h2/stream.js';
import type { BufferBudget } from './h2/buffer-budget.js';
import { encodeHeaders, type HeaderMap } from './h2/hpack.js';
import { ServerBidi, type BidiServerStream } from './server-bidi.js';
import { endWithStatus, PROBE_PATH, respondUnary, responseHeaders, serveProbe } from './server-replies.js';
import { errorMessage } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import { Deadline } from '../core/deadline.js';
import { CallCancelledError, Cancellation, DeadlineExceededError } from '../core/cancellation.js';
import { DEFAULT_SERVER_KEEPALIVE, type ServerKeepalive } from './keepalive.js';
import { requestBodyTimer, superviseConnection } from './server-lifecycle.js';
import { parseGrpcTimeout } from './timeout.js';
import { guardHandshakes } from '../net/handshake-guard.js';
import type { RefusalPath } from '../tls/metrics.js';
import { InjectedSockets, type InjectedConnection } from './injected.js';

const log = logger('grpc-server');

/** After close(), connections still open (calls running, or a peer that does not hang up) are destroyed after this. */
export const CLOSE_GRACE_MS = 2_000;

export interface CallContext {
  /** The client as verified when the call started (its pinned identities then). */
  peer: PinnedPeer;
  /** The client against the directory now (long-lived streams: it may have changed); undefined: refused. */
  current(): PinnedPeer | undefined;
  /** From grpc-timeout, on the server's clock; unbounded when the caller sent none (as the original). */
  deadline: Deadline;
  /**
   * Fired when the call ends before the handler answered: the caller reset the stream (RST_STREAM), the
   * connection was lost, or the deadline passed (the call is then already answered DEADLINE_EXCEEDED).
   */
  cancellation: Cancellation;
  /** The request's header fields (values as the peer sent them: untrusted). */
  headers: HeaderMap;
  /** Set before `cancellation` fires when the call ended because its connection was lost. */
  connectionLost: boolean;
}

export type { BidiServerStream };

export interface GrpcHandlers {
  unary: Record<string, (payload: Buffer, ctx: CallContext) => Promise<Uint8Array>>;
  bidi: Record<string, (stream: BidiServerStream, ctx: CallContext) => void>;
}

export interface GrpcServerOptions {
  tls: LoadedTls;
  /** Check the client certificate's chain to the CA (verify_client); pinning is checked whatever this says. */
  verifyClient: boolean;
  /** The directory as it is now; clients are checked against it per session and per call. */
  lookup: DirectoryLookup;
  handlers: GrpcHandlers;
  maxMessageBytes?: number;
  /** Received message data not yet consumed, per connection (default MAX_CONNECTION_BUFFERED_BYTES). */
  maxConnectionBufferBytes?: number;
  /** The budget all connections share (default: the process's, PROCESS_BUFFER_BUDGET; tests pass one). */
  sharedBudget?: BufferBudget;
  /** Keepalive and connection lifetime; unset fields take DEFAULT_SERVER_KEEPALIVE's (tests shorten them). */
  keepalive?: Partial<ServerKeepalive>;
  /** Time source of deadlines and connection timers (default: the system clock; tests use a manual one). */
  clock?: Clock;
  /** Connections still handshaking, at most (defaults in net/handshake-guard.ts; tests lower them). */
  maxHandshaking?: number;
  maxHandshakingPerAddress?: number;
  /** Who this server is, for the messages of the calls it ends (e.g. "the gRPC server of ls-1"). */
  label?: string;
  /** Serve the conformance probe (server-replies.ts) at PROBE_PATH; only `npm run conformance` sets it. */
  conformanceProbe?: boolean;
  /** Header fields every unary answer carries besides `:status` and `content-type` (encoded once). */
  responseFields?: readonly (readonly [string, string])[];
}

export class GrpcServer {
  readonly server: tls.Server;
  private readonly connections = new Set<H2Connection>();
  private readonly injected = new InjectedSockets();
  /** Set by stopAccepting(): resolves when the listener has closed and its connections have ended. */
  private stopping?: Promise<void>;
  private allClosed: (() => void)[] = [];
  private readonly maxBytes: number;
  private readonly keepalive: ServerKeepalive;
  private readonly clock: Clock;
  private readonly exemptFromHandshakeLimits: (socket: object) => void;
  private readonly label: string;
  private readonly responseHeaders: Buffer;

  constructor(private readonly opts: GrpcServerOptions) {
    this.label = opts.label ?? 'the gRPC server';
    this.responseHeaders = responseHeaders(opts.responseFields);
    this.maxBytes = opts.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    this.keepalive = { ...DEFAULT_SERVER_KEEPALIVE, ...opts.keepalive };
    this.clock = opts.clock ?? systemClock;
    this.server = tls.createServer({
      ...baseContextOptions(opts.tls),
      // A certificate is always requested: without one no identity can be pinned
      // [docs/protocol.md#identity-by-pinning]. Node only records the chain verdict: verifyPeer decides on
      // every check, with one log line that names the client and the reason.
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
      handshakeTimeout: this.keepalive.handshakeTimeoutMs,
    });
    this.server.on('secureConnection', (socket) => {
      try {
        this.onConnection(socket);
      } catch (e) {
        log.error('cannot set up gRPC connection', { error: errorMessage(e) });
        socket.destroy();
      }
    });
    this.server.on('tlsClientError', (err) => log.debug('TLS handshake failed', { error: err.message }));
    // Our own handshake deadline on the clock, and caps on connections still handshaking.
    this.exemptFromHandshakeLimits = guardHandshakes(
      this.server,
      {
        timeoutMs: this.keepalive.handshakeTimeoutMs,
        maxHandshaking: opts.maxHandshaking,
        maxHandshakingPerAddress: opts.maxHandshakingPerAddress,
      },
      this.clock,
      'grpc',
    );
  }

  async listen(bindAddress: string): Promise<AddressInfo> {
    const address = await listenOn(this.server, bindAddress);
    this.server.on('error', (err: Error) => log.error('gRPC server error', { error: err.message }));
    return address;
  }

  /**
   * Serves a socket we dialled ourselves (P2P): we run the TLS server handshake on it. Calls the
   * prototype's emit so that a connection rate limit gate on this server (which wraps the instance's
   * emit) does not count sockets that we opened; nor do the handshake caps. The handle ends it gracefully
   * later (injected.ts).
   */
  inject(socket: Duplex): InjectedConnection {
    const handle = this.injected.add(socket);
    this.exemptFromHandshakeLimits(socket);
    EventEmitter.prototype.emit.call(this.server, 'connection', socket);
    return handle;
  }

  /**
   * Graceful shutdown, first step: the listener closes (new connections are refused) and every connection
   * gets GOAWAY (its peer opens no new calls on it); calls in flight go on. close() waits for the rest.
   */
  stopAccepting(): void {
    if (!this.stopping) {
      const listening = this.server.listening;
      this.stopping = new Promise<void>((resolve) =>
        listening ? this.server.close(() => resolve()) : resolve(),
      );
    }
    for (const c of this.connections) c.close();
  }

  /** Stops accepting, lets the calls in flight finish, destroys what is left after CLOSE_GRACE_MS. */
  async close(): Promise<void> {
    this.stopAccepting();
    const timer = setTimeout(() => {
      for (const c of this.connections) c.destroy();
    }, CLOSE_GRACE_MS);
    timer.unref();
    await this.stopping;
    // Sockets we dialled ourselves (P2P, inject()) are not the listener's: wait for them too.
    if (this.connections.size > 0) await new Promise<void>((resolve) => this.allClosed.push(resolve));
    clearTimeout(timer);
  }

  private onConnection(socket: tls.TLSSocket): void {
    if (socket.alpnProtocol !== 'h2') {
      log.info('rejected gRPC connection: HTTP/2 not negotiated');
      socket.destroy();
      return;
    }
    // A socket we dialled (P2P callee) is checked like any client; its refusals count as P2P.
    const path = this.injected.has(socket) ? 'p2p_callee' : 'grpc_server';
    let peer: PinnedPeer;
    try {
      peer = verifyPeer(socket, { requireCaChain: this.opts.verifyClient, lookup: this.opts.lookup, path });
    } catch {
      socket.destroy(); // verifyPeer logged who and why
      return;
    }
    socket.setNoDelay(true);
    // The callbacks run only once data arrives, after `onIdle` below is set.
    const conn: H2Connection = new H2Connection(socket, 'server', {
      onStream: (stream) => {
        try {
          this.onStream(conn, stream, peer, path);
        } catch (e) {
          // A failing handler ends its own call, not the connection with every other call on it.
          log.error('gRPC handler failed', { error: errorMessage(e) });
          endWithStatus(conn, stream, Status.INTERNAL, 'internal error');
        }
      },
      onIdle: (idle) => onIdle(idle),
      pingPolicy: {
        minIntervalMs: this.keepalive.minClientPingIntervalMs,
        maxStrikes: this.keepalive.maxPingStrikes,
      },
      clock: this.clock,
      maxBufferedBytes: this.opts.maxConnectionBufferBytes,
      sharedBudget: this.opts.sharedBudget,
      writeStallMs: this.keepalive.writeStallMs,
    });
    this.connections.add(conn);
    this.injected.served(socket, conn);
    conn.onClose((err) => {
      this.connections.delete(conn);
      if (this.connections.size === 0) for (const done of this.allClosed.splice(0)) done();
      const fields = { peer: peer.label, error: err?.message ?? '' };
      if (err instanceof ProtocolError) log.warn('gRPC connection ended: the peer broke HTTP/2', fields);
      else if (err) log.debug('gRPC connection closed', fields);
    });
    const onIdle = superviseConnection(conn, this.keepalive, this.clock);
  }

  private onStream(conn: H2Connection, stream: H2Stream, verified: PinnedPeer, at: RefusalPath): void {
    const headers = stream.requestHeaders ?? {};
    const recheck = (): ReturnType<typeof recheckPeer> => recheckPeer(verified, { lookup: this.opts.lookup });
    const peer = recheck();
    if (!(peer instanceof PinnedPeer)) {
      // Unpinned (or expired) while the connection was open: refuse the call and close the connection.
      if (!conn.closed) refuseSession(verified, peer, at); // one log line per connection
      endWithStatus(conn, stream, Status.UNAVAILABLE, 'no name matched');
      conn.close();
      return;
    }
    const path = headers[':path'] ?? '';
    const contentType = headers['content-type'] ?? '';
    if (headers[':method'] !== 'POST' || !contentType.startsWith('application/grpc')) {
      conn.sendHeaders(stream, encodeHeaders([[':status', '415']], true), true);
      return;
    }
    if (path === PROBE_PATH && this.opts.conformanceProbe) return serveProbe(conn, stream);
    const timeoutMs = parseGrpcTimeout(headers['grpc-timeout']);
    const ctx: CallContext = {
      peer,
      current: () => {
        const now = recheck();
        return now instanceof PinnedPeer ? now : undefined;
      },
      deadline:
        timeoutMs === undefined ? Deadline.unbounded(this.clock) : Deadline.after(timeoutMs, this.clock),
      cancellation: new Cancellation(),
      headers,
      connectionLost: false,
    };
    const unary = this.opts.handlers.unary[path];
    if (unary) {
      const request = new UnaryMessage(new MessageReader(this.maxBytes), (n) => conn.consumed(stream, n));
      return this.serveUnary(conn, stream, unary, ctx, request);
    }
    const bidi = this.opts.handlers.bidi[path];
    if (bidi) return this.serveBidi(conn, stream, bidi, ctx, new MessageReader(this.maxBytes));
    endWithStatus(conn, stream, Status.UNIMPLEMENTED, `unknown method ${path}`);
  }

  /** A stream lives until either side ends it, or until its grpc-timeout if the caller sent one. */
  private serveBidi(
    conn: H2Connection,
    stream: H2Stream,
    handler: (stream: BidiServerStream, ctx: CallContext) => void,
    ctx: CallContext,
    reader: MessageReader,
  ): void {
    const bidi = new ServerBidi(conn, stream, reader);
    const timer = ctx.deadline.onExpire(() => {
      const err = new DeadlineExceededError(this.label);
      bidi.end(Status.DEADLINE_EXCEEDED, err.message);
      ctx.cancellation.cancel(err);
    });
    bidi.onEnd(() => {
      ctx.deadline.cancelExpire(timer);
      ctx.cancellation.cancel(new CallCancelledError(`the stream to ${this.label} ended`));
    });
    handler(bidi, ctx);
  }

  private serveUnary(
    conn: H2Connection,
    stream: H2Stream,
    handler: (payload: Buffer, ctx: CallContext) => Promise<Uint8Array>,
    ctx: CallContext,
    request: UnaryMessage,
  ): void {
    let failed = false;
    /** The call has its answer (or its failure) queued; nothing else may be sent on the stream. */
    let answered = false;
    const bodyTimer = requestBodyTimer(this.keepalive, this.clock, () => {
      failed = true;
      answered = true;
      endWithStatus(conn, stream, Status.DEADLINE_EXCEEDED, 'request message not complete in time');
    });
    // grpc-timeout is enforced from the first byte: while the message arrives and while the handler works.
    const deadlineTimer = ctx.deadline.onExpire(() => {
      if (answered) return;
      failed = true;
      answered = true;
      const err = new DeadlineExceededError(this.label);
      // A caller still sending is asked to stop once the status is out (streams.ts, RFC 9113 §8.1).
      endWithStatus(conn, stream, Status.DEADLINE_EXCEEDED, err.message);
      ctx.cancellation.cancel(err);
    });
    stream.events = {
      onHeaders: () => undefined,
      onData: (chunk) => {
        if (failed) return;
        try {
          request.push(chunk);
        } catch (e) {
          failed = true;
          answered = true;
          ctx.deadline.cancelExpire(deadlineTimer);
          const err = e as GrpcError;
          // Only a number is a status: the string codes of our other errors (core/errors.ts) are not.
          const status = typeof err.code === 'number' ? err.code : Status.INTERNAL;
          endWithStatus(conn, stream, status, err.details ?? err.message);
        }
      },
      onBufferExhausted: (message) => {
        failed = true;
        answered = true;
        ctx.deadline.cancelExpire(deadlineTimer);
        endWithStatus(conn, stream, Status.RESOURCE_EXHAUSTED, message);
      },
      onEnd: () => {
        this.clock.clearTimeout(bodyTimer);
        if (failed) return;
        const message = request.single();
        if (!message) {
          answered = true;
          ctx.deadline.cancelExpire(deadlineTimer);
          endWithStatus(conn, stream, Status.INTERNAL, 'expected exactly one request message');
          return;
        }
        handler(message, ctx).then(
          (reply) => {
            if (answered) return;
            answered = true;
            ctx.deadline.cancelExpire(deadlineTimer);
            respondUnary(conn, stream, reply, this.responseHeaders);
          },
          (err: unknown) => {
            if (answered) return;
            answered = true;
            ctx.deadline.cancelExpire(deadlineTimer);
            const e = err instanceof GrpcError ? err : new GrpcError(Status.UNKNOWN, errorMessage(err));
            endWithStatus(conn, stream, e.code, e.details);
          },
        );
      },
      onClose: (err) => {
        this.clock.clearTimeout(bodyTimer);
        ctx.deadline.cancelExpire(deadlineTimer);
        request.reader.release();
        // Closed before the answer: the caller reset the stream (RST_STREAM CANCEL) or the connection
        // went away; the handler's work (the broker, the backend request) is cancelled.
        if (!answered) {
          answered = true;
          ctx.connectionLost = err instanceof StreamError && err.connectionLost;
          const why = err ? `: ${err.message}` : '';
          ctx.cancellation.cancel(new CallCancelledError(`the caller left ${this.label}${why}`));
        }
      },
    };
  }
}
