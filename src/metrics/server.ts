/**
 * The metrics listener (`metrics.bind_address`) of eps, sd and proxy: a Prometheus registry on /metrics
 * (eps and proxy: the shared one, with process metrics and whatever components register, e.g. the broker's
 * request counters; sd: its own), the health endpoints /healthz and /readyz (health.ts) and the status
 * page, / and /status.json (status.ts). Plain HTTP, or HTTPS with `metrics.tls` (then, by default, only
 * clients with a certificate from its CAs are served).
 */
import http from 'node:http';
import https from 'node:https';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { registry } from '../core/metrics-registry.js';
import { logger } from '../core/log.js';
import { closeServer, listenOn } from '../net/listen.js';
import { errorMessage } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import { guardFirstRequest, guardHandshakes, type HandshakeLimits } from '../net/handshake-guard.js';
import { serveHealth } from './health.js';
import { exportReadiness } from './ready-gauge.js';
import type { Readiness } from './readiness.js';
import { serveStatus, type StatusSource } from './status.js';
import { baseContextOptions, loadTls, serverAuthOptions, type TlsConfig } from '../tls/options.js';

const log = logger('metrics');

export { registry };
collectDefaultMetrics({ register: registry });

/** A metrics request must be complete within this time. */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;
/** A connection to the metrics listener must send its first request within this time. */
export const METRICS_FIRST_REQUEST_TIMEOUT_MS = 10_000;

export interface MetricsServerOptions {
  /** Bounds on connections without a request yet (tests shorten the deadline); see handshake-guard.ts. */
  unfinished?: Partial<HandshakeLimits>;
  clock?: Clock;
  /** The registry served on /metrics (default: the shared one). */
  registry?: Registry;
  /** The checks behind /readyz (without: /readyz answers 503). */
  readiness?: Readiness;
  /** The data of the status page (without: / is served, /status.json answers 503). */
  status?: StatusSource;
  /** `metrics.tls`: serve HTTPS (client certificates checked as on every other TLS listener). */
  tls?: TlsConfig | undefined;
}

export class MetricsServer {
  readonly server: http.Server;

  constructor(
    private readonly bindAddress: string,
    options: MetricsServerOptions = {},
  ) {
    const served = options.registry ?? registry;
    if (options.readiness) exportReadiness(served, options.readiness);
    const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' }).end('method not allowed\n');
        return;
      }
      if (serveHealth(path, res, options.readiness)) return;
      if (serveStatus(path, res, options.status)) return;
      if (path !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        return;
      }
      served.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': served.contentType }).end(text),
        (e: Error) => res.writeHead(500).end(e.message),
      );
    };
    const limits = { timeoutMs: METRICS_FIRST_REQUEST_TIMEOUT_MS, ...options.unfinished };
    const clock = options.clock ?? systemClock;
    const label = `metrics ${bindAddress}`;
    if (options.tls === undefined) {
      this.server = http.createServer(handle);
      guardFirstRequest(this.server, limits, clock, label);
    } else {
      const tls = loadTls(options.tls);
      const server = https.createServer(
        { ...baseContextOptions(tls), ...serverAuthOptions(tls), handshakeTimeout: limits.timeoutMs },
        handle,
      );
      guardHandshakes(server, limits, clock, label);
      this.server = server;
    }
    this.server.requestTimeout = METRICS_REQUEST_TIMEOUT_MS;
  }

  async start(): Promise<void> {
    try {
      await listenOn(this.server, this.bindAddress);
    } catch (e) {
      throw new Error(`cannot serve metrics: ${errorMessage(e)}`, { cause: e });
    }
    log.info(`Serving metrics and the status page on ${this.bindAddress}...`);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await closeServer(this.server);
  }
}
