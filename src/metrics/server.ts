/**
 * The metrics listener (`metrics.bind_address`) of eps, sd and proxy: a Prometheus registry on /metrics
 * (eps and proxy: the shared one, with process metrics and whatever components register, e.g. the broker's
 * request counters; sd: its own) and the health endpoints /healthz and /readyz (health.ts).
 */
import http from 'node:http';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { registry } from '../core/metrics-registry.js';
import { logger } from '../core/log.js';
import { closeServer, listenOn } from '../net/listen.js';
import { errorMessage } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import { guardFirstRequest, type HandshakeLimits } from '../net/handshake-guard.js';
import { serveHealth } from './health.js';
import { exportReadiness } from './ready-gauge.js';
import type { Readiness } from './readiness.js';

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
}

export class MetricsServer {
  readonly server: http.Server;

  constructor(
    private readonly bindAddress: string,
    options: MetricsServerOptions = {},
  ) {
    const served = options.registry ?? registry;
    if (options.readiness) exportReadiness(served, options.readiness);
    this.server = http.createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (serveHealth(path, res, options.readiness)) return;
      if (path !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        return;
      }
      served.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': served.contentType }).end(text),
        (e: Error) => res.writeHead(500).end(e.message),
      );
    });
    this.server.requestTimeout = METRICS_REQUEST_TIMEOUT_MS;
    guardFirstRequest(
      this.server,
      { timeoutMs: METRICS_FIRST_REQUEST_TIMEOUT_MS, ...options.unfinished },
      options.clock ?? systemClock,
      `metrics ${bindAddress}`,
    );
  }

  async start(): Promise<void> {
    try {
      await listenOn(this.server, this.bindAddress);
    } catch (e) {
      throw new Error(`cannot serve metrics: ${errorMessage(e)}`, { cause: e });
    }
    log.info(`Serving metrics on ${this.bindAddress}...`);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await closeServer(this.server);
  }
}
