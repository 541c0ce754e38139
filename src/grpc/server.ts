/**
 * A small gRPC server on node:http2 with TLS we control: after every handshake the peer certificate is
 * mapped to pinned identities, and a connection without any is closed before a single call is served
 * [WIRE, 10-eps-server §7.3, §8.2]. Sockets dialled out for P2P can be injected and are then served as if
 * they had been accepted (we act as TLS server on them).
 */
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { logger } from '../core/log.js';
import { listenOn } from '../net/listen.js';
import { baseContextOptions, type LoadedTls } from '../tls/options.js';
import { peerKey, type PeerIdentity, type PeerKey } from '../tls/identity.js';
import { frame, MAX_MESSAGE_BYTES, MessageReader, onMessages, writeMessage } from './framing.js';
import { encodeGrpcMessage, GrpcError, Status } from './status.js';

const log = logger('grpc-server');

/** Server keepalive and limits (the original's values where it had them, 10-eps-server §7.3). */
export const IDLE_TIMEOUT_MS = 60_000;
export const PING_TIMEOUT_MS = 30_000;
export const MAX_CONCURRENT_STREAMS = 1000;
export const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface CallContext {
  /** The peer's pinned identities when the call started. */
  identities: PeerIdentity[];
  /** The peer's pinned identities now (for long-lived streams: the directory may have changed). */
  current(): PeerIdentity[];
  /** Absolute deadline in ms since epoch, from grpc-timeout (undefined: none given). */
  deadline?: number;
}

export interface BidiServerStream {
  /** Sends one message; resolves when flushed to the socket buffer (respects backpressure). */
  send(payload: Uint8Array): Promise<void>;
  /** Ends the call with a status. */
  end(code: number, message?: string): void;
  onMessage(listener: (payload: Buffer) => void): void;
  onEnd(listener: (err?: Error) => void): void;
  readonly closed: boolean;
}

export interface GrpcHandlers {
  unary: Record<string, (payload: Buffer, ctx: CallContext) => Promise<Uint8Array>>;
  bidi: Record<string, (stream: BidiServerStream, ctx: CallContext) => void>;
}

export interface GrpcServerOptions {
  tls: LoadedTls;
  verifyClient: boolean;
  /** Pinned identities of a peer against the current directory; called per session and per call. */
  identify: (key: PeerKey) => PeerIdentity[];
  handlers: GrpcHandlers;
  maxMessageBytes?: number;
}

function parseTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const factor: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
  return Date.now() + n * factor[m[2]!]!;
}

export class GrpcServer {
  readonly server: http2.Http2SecureServer;
  private readonly peers = new WeakMap<http2.ServerHttp2Session, PeerKey>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly maxBytes: number;

  constructor(private readonly opts: GrpcServerOptions) {
    this.maxBytes = opts.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    this.server = http2.createSecureServer({
      ...baseContextOptions(opts.tls),
      // A certificate is always requested: without one no identity can be pinned [§8.2].
      requestCert: true,
      rejectUnauthorized: opts.verifyClient,
      ALPNProtocols: ['h2'],
      allowHTTP1: false,
      noDelay: true,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS },
      maxSessionMemory: 64,
    });
    this.server.on('session', (session) => {
      try {
        this.onSession(session);
      } catch (e) {
        log.error('cannot set up gRPC session', { error: (e as Error).message });
        session.destroy();
      }
    });
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
    this.server.on('tlsClientError', (err) => log.debug('TLS handshake failed', { error: err.message }));
    this.server.on('sessionError', (err) => log.debug('HTTP/2 session error', { error: err.message }));
  }

  async listen(bindAddress: string): Promise<AddressInfo> {
    const address = await listenOn(this.server, bindAddress);
    this.server.on('error', (err) => log.error('gRPC server error', { error: err.message }));
    return address;
  }

  /**
   * Serves a socket we dialled ourselves (P2P): we run the TLS server handshake on it. Calls the
   * prototype's emit so that a connection rate limit gate on this server (which wraps the instance's
   * emit) does not count sockets that we opened.
   */
  inject(socket: Duplex): void {
    EventEmitter.prototype.emit.call(this.server, 'connection', socket);
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.close();
    await new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      setTimeout(() => {
        for (const s of this.sessions) s.destroy();
      }, 2000).unref();
    });
  }

  private onSession(session: http2.ServerHttp2Session): void {
    const socket = session.socket as unknown as TLSSocket;
    const cert = socket.getPeerCertificate?.(true);
    const key = cert ? peerKey(cert) : undefined;
    if (!key) {
      log.info('rejected gRPC connection: certificate missing');
      session.destroy();
      return;
    }
    if (this.opts.identify(key).length === 0) {
      log.info('rejected gRPC connection: no name matched a pinned certificate', {
        names: key.names.join(','),
      });
      session.destroy();
      return;
    }
    this.peers.set(session, key);
    this.sessions.add(session);
    let active = 0;
    session.on('stream', (stream) => {
      active++;
      stream.once('close', () => active--);
    });
    session.setTimeout(IDLE_TIMEOUT_MS, () => {
      if (active === 0) {
        session.close();
        return;
      }
      const sent = session.ping((err) => {
        if (err) session.destroy();
      });
      if (!sent) session.destroy();
    });
    session.once('close', () => this.sessions.delete(session));
    session.on('error', (err) => log.debug('gRPC session error', { error: err.message }));
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const session = stream.session as http2.ServerHttp2Session;
    const key = this.peers.get(session);
    stream.on('error', (err) => log.debug('gRPC stream error', { error: err.message }));
    if (!key) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    const identities = this.opts.identify(key);
    if (identities.length === 0) {
      // The certificate was unpinned while the connection was open: refuse and close the connection.
      log.info('closing gRPC connection: its certificate is no longer pinned', {
        names: key.names.join(','),
      });
      trailersOnly(stream, Status.UNAVAILABLE, 'no name matched');
      session.close();
      return;
    }
    const path = headers[':path'] ?? '';
    const contentType = headers['content-type'] ?? '';
    if (headers[':method'] !== 'POST' || !contentType.startsWith('application/grpc')) {
      stream.respond({ ':status': 415 }, { endStream: true });
      return;
    }
    const ctx: CallContext = { identities, current: () => this.opts.identify(key) };
    const deadline = parseTimeout(headers['grpc-timeout']);
    if (deadline !== undefined) ctx.deadline = deadline;
    const unary = this.opts.handlers.unary[path];
    if (unary) return this.serveUnary(stream, unary, ctx);
    const bidi = this.opts.handlers.bidi[path];
    if (bidi) return bidi(new ServerBidi(stream, this.maxBytes), ctx);
    trailersOnly(stream, Status.UNIMPLEMENTED, `unknown method ${path}`);
  }

  private serveUnary(
    stream: http2.ServerHttp2Stream,
    handler: (payload: Buffer, ctx: CallContext) => Promise<Uint8Array>,
    ctx: CallContext,
  ): void {
    const reader = new MessageReader(this.maxBytes);
    const messages: Buffer[] = [];
    let failed = false;
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      try {
        messages.push(...reader.push(chunk));
      } catch (e) {
        failed = true;
        const err = e as GrpcError;
        trailersOnly(stream, err.code ?? Status.INTERNAL, err.details ?? err.message);
      }
    });
    stream.on('end', () => {
      if (failed) return;
      if (messages.length !== 1 || reader.pendingBytes !== 0) {
        trailersOnly(stream, Status.INTERNAL, 'expected exactly one request message');
        return;
      }
      handler(messages[0]!, ctx).then(
        (reply) => respondUnary(stream, reply),
        (err: unknown) => {
          const e = err instanceof GrpcError ? err : new GrpcError(Status.UNKNOWN, (err as Error).message);
          trailersOnly(stream, e.code, e.details);
        },
      );
    });
  }
}

function trailersOnly(stream: http2.ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.end();
    return;
  }
  stream.respond(
    {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(code),
      'grpc-message': encodeGrpcMessage(message),
    },
    { endStream: true },
  );
}

function respondUnary(stream: http2.ServerHttp2Stream, payload: Uint8Array): void {
  if (stream.destroyed || stream.closed) return;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(frame(payload));
}

class ServerBidi implements BidiServerStream {
  private readonly reader: MessageReader;
  private endListeners: ((err?: Error) => void)[] = [];
  private ended = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    maxBytes: number,
  ) {
    this.reader = new MessageReader(maxBytes);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('close', () => this.finish());
    stream.on('end', () => this.finish());
    stream.on('error', (err) => this.finish(err));
  }

  get closed(): boolean {
    return this.ended || this.stream.destroyed;
  }

  onMessage(listener: (payload: Buffer) => void): void {
    onMessages(this.stream, this.reader, listener, (err) =>
      this.end(err.code ?? Status.INTERNAL, err.details ?? err.message),
    );
  }

  onEnd(listener: (err?: Error) => void): void {
    this.endListeners.push(listener);
  }

  send(payload: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new Error('stream closed'));
    return writeMessage(this.stream, payload);
  }

  end(code: number, message = ''): void {
    if (this.stream.destroyed || this.stream.closed) return this.finish();
    this.stream.once('wantTrailers', () => {
      const trailers: Record<string, string> = { 'grpc-status': String(code) };
      if (message) trailers['grpc-message'] = encodeGrpcMessage(message);
      this.stream.sendTrailers(trailers);
    });
    this.stream.end();
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
