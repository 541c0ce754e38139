/**
 * Prometheus metrics of the service directory (top-level `metrics.bind_address`; the original accepts the
 * block but never starts the server): process metrics plus records, chains and submissions, on /metrics of
 * its own metrics listener (metrics/server.ts, with /healthz and /readyz).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MetricsServer } from '../metrics/server.js';
import type { Readiness } from '../metrics/readiness.js';
import type { StatusSource } from '../metrics/status.js';
import type { MetricsSettings } from '../settings/index.js';
import type { ServiceDirectory } from './directory.js';

export type SubmitOutcome = 'ok' | 'rejected' | 'invalid';

export class SdMetrics {
  readonly registry = new Registry();
  private readonly submissions: Counter<'outcome'>;
  private readonly submitSeconds: Histogram;
  private readonly refreshErrors: Counter;
  private server: MetricsServer | undefined;

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

  async start(settings: MetricsSettings, readiness: Readiness, status: StatusSource): Promise<void> {
    const server = new MetricsServer(settings.bind_address, {
      registry: this.registry,
      readiness,
      status,
      tls: settings.tls,
    });
    await server.start();
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.stop();
  }
}
