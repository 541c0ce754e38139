/**
 * HTTP(S) server for JSON-RPC endpoints (eps gateway, sd API, proxy control APIs): TLS per settings,
 * CORS [docs/settings.md#cors], a body size limit, timeouts against slow clients and slow TLS handshakes, optional per-IP connection
 * rate limits, and a listen() that really reports bind failures.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '../core/errors.js';
import { logger } from '../core/log.js';
import { ErrorCodes } from '../core/messages.js';
import { listenOn } from '../net/listen.js';
import { guardFirstRequest, guardHandshakes } from '../net/handshake-guard.js';
import { systemClock, type Clock } from '../core/clock.js';
import { applyRateLimits } from '../net/server-rate-limit.js';
import { baseContextOptions, loadTls, serverAuthOptions, type TlsConfig } from '../tls/options.js';
import { buildResponse, sendJson } from './write.js';

const log = logger('http');

export const HEADERS_TIMEOUT_MS = 10_000;
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
export const SHUTDOWN_GRACE_MS = 5_000;

/** Settled settings (the defaults are in settings/tls-schema.ts). */
export interface CorsConfig {
  allowed_hosts: string[];
  allowed_headers: string[];
  allowed_methods: string[];
}

export interface RateLimitConfig {
  type: 'second' | 'minute' | 'hour';
  limit: number;
}

/** Settled settings (the defaults are in settings/tls-schema.ts). */
export interface HttpServerConfig {
  bind_address: string;
  path: string;
  cors?: CorsConfig | undefined;
  tls?: TlsConfig | undefined;
  tcp_rate_limits?: RateLimitConfig[] | undefined;
  max_body_bytes: number;
  /** Seconds. */
  request_timeout: number;
  /**
   * Seconds a new connection has to finish its TLS handshake, or without TLS to send its first request's
   * headers; then it is closed.
   */
  handshake_timeout: number;
}

/** What tests (and embedders) may change besides the settings. */
export interface JsonHttpServerOptions {
  /** Time source of the handshake (or first-request) deadline (default: the system clock). */
  clock?: Clock;
  /**
   * Connections still handshaking (without TLS: without a first request), at most (defaults in
   * net/handshake-guard.ts).
   */
  maxHandshaking?: number;
  maxHandshakingPerAddress?: number;
}

export interface IncomingJson {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  body: Buffer;
}

export type JsonHandler = (incoming: IncomingJson) => Promise<void> | void;

export type ConnectionFilter = (server: http.Server) => void;

export class JsonHttpServer {
  readonly server: http.Server;
  private readonly pathPattern: RegExp;
  private readonly corsHosts: RegExp[];
  private readonly maxBody: number;
  /** Set by stopAccepting(): resolves when the listener and every connection are closed. */
  private closing?: Promise<void>;

  constructor(
    private readonly config: HttpServerConfig,
    private readonly handler: JsonHandler,
    attachFilter?: ConnectionFilter,
    options: JsonHttpServerOptions = {},
  ) {
    // The original inserts the path into an anchored regex unescaped; we match the literal path instead.
    this.pathPattern = new RegExp('^' + config.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$');
    this.corsHosts = (config.cors?.allowed_hosts ?? []).map((p) => new RegExp(p));
    this.maxBody = config.max_body_bytes;
    const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => this.onRequest(req, res);
    const limits = {
      timeoutMs: config.handshake_timeout * 1000,
      maxHandshaking: options.maxHandshaking,
      maxHandshakingPerAddress: options.maxHandshakingPerAddress,
    };
    const clock = options.clock ?? systemClock;
    if (config.tls) {
      const tls = loadTls(config.tls);
      const server = https.createServer(
        { ...baseContextOptions(tls), ...serverAuthOptions(tls), handshakeTimeout: limits.timeoutMs },
        listener,
      );
      // Our own handshake deadline on the clock (Node's only reports a timeout), and handshake caps.
      guardHandshakes(server, limits, clock, config.bind_address);
      this.server = server;
    } else {
      // The same deadline and caps until the first request's headers are in (Node checks its own
      // headersTimeout only every 30 s, and caps nothing); its body then has `request_timeout`.
      this.server = http.createServer(listener);
      guardFirstRequest(this.server, limits, clock, config.bind_address);
    }
    this.server.headersTimeout = HEADERS_TIMEOUT_MS;
    this.server.requestTimeout = config.request_timeout * 1000;
    this.server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    this.server.on('tlsClientError', (err: Error) => log.debug('TLS client error', { error: err.message }));
    this.server.on('clientError', (err, socket) => {
      log.debug('HTTP client error', { error: err.message });
      socket.destroy();
    });
    applyRateLimits(this.server, config.tcp_rate_limits, config.bind_address);
    attachFilter?.(this.server);
  }

  async listen(): Promise<AddressInfo> {
    const address = await listenOn(this.server, this.config.bind_address);
    this.server.on('error', (err) => log.error('HTTP server error', { error: err.message }));
    return address;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * Graceful shutdown, first step: the listener closes (new connections are refused) and idle keep-alive
   * connections end; requests in flight go on (their connections end after the answer). close() waits.
   */
  stopAccepting(): void {
    if (!this.server.listening || this.closing) return;
    this.closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
  }

  async close(): Promise<void> {
    if (this.closing) {
      const timer = setTimeout(() => this.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await this.closing;
      clearTimeout(timer);
      return;
    }
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const timer = setTimeout(() => this.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    await closed;
    clearTimeout(timer);
  }

  private applyCors(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (!this.config.cors) return false;
    const origin = req.headers.origin;
    if (!origin || !this.corsHosts.some((re) => re.test(origin))) return false;
    const requested = (req.headers['access-control-request-headers'] ?? '').toLowerCase();
    const headers = [requested, ...this.config.cors.allowed_headers.map((h) => h.toLowerCase())]
      .flatMap((h) => h.split(','))
      .map((h) => h.trim())
      .filter((h, i, all) => h !== '' && all.indexOf(h) === i); // de-duplicated (fixes the original's B14)
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Max-Age', '60');
    res.setHeader('Access-Control-Allow-Headers', headers.join(', '));
    res.setHeader('Access-Control-Allow-Methods', this.config.cors.allowed_methods.join(', '));
    res.setHeader('Vary', 'Origin');
    if (req.method === 'OPTIONS') {
      res.writeHead(200);
      res.end();
      return true;
    }
    return false;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.applyCors(req, res)) return;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!this.pathPattern.test(path)) {
      req.resume();
      sendJson(res, 404, { message: 'not found' });
      return;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.maxBody) {
      this.tooLarge(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > this.maxBody) {
        this.tooLarge(req, res);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (size > this.maxBody) return;
      // No peer identity here: a proxy control API checks its caller with verifyAllowedClient
      // (tls/pinned-peer.ts); the gateway's clients are the operator.
      const incoming: IncomingJson = { req, res, body: Buffer.concat(chunks) };
      Promise.resolve(this.handler(incoming)).catch((err: unknown) => {
        log.error('request handler failed', { error: errorMessage(err) });
        sendJson(
          res,
          500,
          buildResponse(undefined, { code: ErrorCodes.internal, message: 'internal server error' }, null),
        );
      });
    });
  }

  private tooLarge(req: http.IncomingMessage, res: http.ServerResponse): void {
    sendJson(
      res,
      413,
      buildResponse(
        undefined,
        { code: ErrorCodes.invalidRequest, message: `request body too large (limit ${this.maxBody} bytes)` },
        null,
      ),
    );
    // Stop reading: the rest of the body is discarded with the connection.
    res.on('finish', () => req.destroy());
    req.pause();
  }
}
