/**
 * Prometheus metrics of the service directory (top-level `metrics.bind_address`; the original accepts the
 * block but never starts the server): process metrics plus records, chains and submissions, on /metrics.
 */
import http from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { logger } from '../core/log.js';
import { parseHostPort } from '../net/host-port.js';
import { guardFirstRequest } from '../net/handshake-guard.js';
import { systemClock } from '../core/clock.js';
import type { ServiceDirectory } from './directory.js';

const log = logger('metrics');

export const METRICS_REQUEST_TIMEOUT_MS = 10_000;

export type SubmitOutcome = 'ok' | 'rejected' | 'invalid';

export class SdMetrics {
  readonly registry = new Registry();
  private readonly submissions: Counter<'outcome'>;
  private readonly submitSeconds: Histogram;
  private readonly refreshErrors: Counter;
  private server: http.Server | undefined;

  constructor(directory: ServiceDirectory) {
    collectDefaultMetrics({ register: this.registry });
    this.submissions = new Counter({
      name: 'sd_submissions_total',
      help: 'submitRecords calls by outcome',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
    });
    this.submitSeconds = new Histogram({
      name: 'sd_submit_duration_seconds',
      help: 'Time to verify and durably store a submission',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [this.registry],
    });
    this.refreshErrors = new Counter({
      name: 'sd_store_read_errors_total',
      help: 'Failed periodic reads of the datastore',
      registers: [this.registry],
    });
    new Gauge({
      name: 'sd_best_chain_records',
      help: 'Records in the served (best) chain',
      registers: [this.registry],
      collect() {
        this.set(directory.stats.bestLength);
      },
    });
    new Gauge({
      name: 'sd_stored_entries',
      help: 'Entries read from the datastore',
      registers: [this.registry],
      collect() {
        this.set(directory.stats.stored);
      },
    });
    new Gauge({
      name: 'sd_chains',
      help: 'Valid chains in the datastore (the best one is served)',
      registers: [this.registry],
      collect() {
        this.set(directory.stats.chains);
      },
    });
  }

  submitted(outcome: SubmitOutcome, elapsedMs: number): void {
    this.submissions.inc({ outcome });
    if (outcome !== 'invalid') this.submitSeconds.observe(elapsedMs / 1000);
  }

  readFailed(): void {
    this.refreshErrors.inc();
  }

  async start(bindAddress: string): Promise<void> {
    const server = http.createServer((req, res) => {
      if ((req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(text),
        (e: Error) => res.writeHead(500).end(e.message),
      );
    });
    server.requestTimeout = METRICS_REQUEST_TIMEOUT_MS;
    guardFirstRequest(
      server,
      { timeoutMs: METRICS_REQUEST_TIMEOUT_MS },
      systemClock,
      `sd metrics ${bindAddress}`,
    );
    const { host, port } = parseHostPort(bindAddress);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`cannot serve metrics on ${bindAddress}: ${e.message}`)));
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    log.info(`Serving metrics on ${bindAddress}...`);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server?.listening) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
