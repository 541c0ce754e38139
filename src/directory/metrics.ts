/**
 * Freshness of the directory (both backends) and refusals of the `api` directory, on the shared Prometheus
 * registry (`metrics.bind_address`): how old the state is (`api`: last verified refresh; `json`: last good
 * read of its files) for an alert on a stale directory, and each failed refresh by reason (an alert on
 * refused records: someone serves a bad, forked or rolled-back chain).
 */
import { Counter, Gauge } from 'prom-client';
import { registry } from '../metrics/server.js';
import { DirectoryRefreshError, SdRpcError, SdUnreachableError } from './api-errors.js';

/** The directory whose state the gauges describe (one per eps process; the last one started wins). */
export interface DirectoryFreshness {
  /** Seconds since the last successful refresh or read of the source (since start when there was none). */
  ageSeconds(): number;
}

let source: DirectoryFreshness | undefined;

export function describeDirectory(directory: DirectoryFreshness): void {
  source = directory;
}

new Gauge({
  name: 'eps_directory_age_seconds',
  help: 'Seconds since the directory was last refreshed from its source (api: verified from the service directory; json: its files read)',
  registers: [registry],
  collect() {
    if (source) this.set(source.ageSeconds());
  },
});

const failures = new Counter({
  name: 'eps_directory_refresh_failures_total',
  help: 'Failed directory refreshes by reason: unreachable, rpc, or refused records (schema, verify, fork, rollback, apply)',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export function countRefreshFailure(err: unknown): void {
  let reason = 'other';
  if (err instanceof DirectoryRefreshError) reason = err.code;
  else if (err instanceof SdUnreachableError) reason = 'unreachable';
  else if (err instanceof SdRpcError) reason = 'rpc';
  failures.inc({ reason });
}
