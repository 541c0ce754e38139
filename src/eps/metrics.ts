/** Prometheus endpoint (`metrics.bind_address`): process metrics plus eps request counters on /metrics. */
import http from 'node:http';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { logger } from '../core/log.js';
import { parseHostPort } from '../net/host-port.js';

const log = logger('metrics');

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const requestsTotal = new Counter({
  name: 'eps_requests_total',
  help: 'Requests handled by the broker, by entry channel and outcome',
  labelNames: ['entry', 'outcome'] as const,
  registers: [registry],
});

export const requestSeconds = new Histogram({
  name: 'eps_request_duration_seconds',
  help: 'Time from a request entering the broker to its outcome',
  labelNames: ['entry'] as const,
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
  registers: [registry],
});

export class MetricsServer {
  private readonly server: http.Server;

  constructor(private readonly bindAddress: string) {
    this.server = http.createServer((req, res) => {
      if ((req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        return;
      }
      registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
        (e: Error) => res.writeHead(500).end(e.message),
      );
    });
    this.server.requestTimeout = 10_000;
  }

  async start(): Promise<void> {
    const { host, port } = parseHostPort(this.bindAddress);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (e) =>
        reject(new Error(`cannot serve metrics on ${this.bindAddress}: ${e.message}`)),
      );
      this.server.listen(port, host, () => resolve());
    });
    log.info(`Serving metrics on ${this.bindAddress}...`);
  }

  async stop(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
