/** Request counters and latencies of the broker, on the shared Prometheus registry (`metrics.bind_address`). */
import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../metrics/server.js';

/** `local`: from this operator's own gateway; `peer`: from another operator (gRPC or reverse stream). */
export type EntryKind = 'local' | 'peer';
/** `ok`: a response without error; `error`: a response with an error (403, 500, backend errors);
 * `failed`: a broker error (unknown recipient, bad ID, ...); `none`: delivered without a response. */
export type Outcome = 'ok' | 'error' | 'failed' | 'none';

export const requestsTotal = new Counter({
  name: 'eps_requests_total',
  help: 'Requests handled by the broker, by origin and outcome',
  labelNames: ['entry', 'outcome'] as const,
  registers: [registry],
});

/** Requests the broker has taken and not yet answered (goes back to 0 when no work is left). */
export const requestsInFlight = new Gauge({
  name: 'eps_requests_in_flight',
  help: 'Requests in the broker that have not been answered yet, by origin',
  labelNames: ['entry'] as const,
  registers: [registry],
});

export const requestSeconds = new Histogram({
  name: 'eps_request_duration_seconds',
  help: 'Time from a request entering the broker to its outcome',
  labelNames: ['entry'] as const,
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
  registers: [registry],
});

export function recordRequest(entry: EntryKind, outcome: Outcome, startedMs: number): void {
  requestsTotal.inc({ entry, outcome });
  requestSeconds.observe({ entry }, (performance.now() - startedMs) / 1000);
}
