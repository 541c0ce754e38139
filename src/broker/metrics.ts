/** Request counters and latencies of the broker, on the shared Prometheus registry (`metrics.bind_address`). */
import {
  HotCounter,
  HotGauge,
  HotHistogram,
  type CountSeries,
  type HistogramSeries,
} from '../core/hot-metrics.js';
import { registry } from '../metrics/server.js';

/** `local`: from this operator's own gateway; `peer`: from another operator (gRPC or reverse stream). */
export type EntryKind = 'local' | 'peer';
/** `ok`: a response without error; `error`: a response with an error (403, 500, backend errors);
 * `failed`: a broker error (unknown recipient, bad ID, ...); `none`: delivered without a response. */
export type Outcome = 'ok' | 'error' | 'failed' | 'none';

const requestsTotal = new HotCounter({
  name: 'eps_requests_total',
  help: 'Requests handled by the broker, by origin and outcome',
  labelNames: ['entry', 'outcome'],
  registers: [registry],
});

/** Requests the broker has taken and not yet answered (goes back to 0 when no work is left). */
const requestsInFlight = new HotGauge({
  name: 'eps_requests_in_flight',
  help: 'Requests in the broker that have not been answered yet, by origin',
  labelNames: ['entry'],
  registers: [registry],
});

const requestSeconds = new HotHistogram({
  name: 'eps_request_duration_seconds',
  help: 'Time from a request entering the broker to its outcome',
  labelNames: ['entry'],
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
  registers: [registry],
});

/** The series of one origin, resolved once (every call updates them). */
interface EntrySeries {
  inFlight: CountSeries;
  seconds: HistogramSeries;
  outcomes: Record<Outcome, CountSeries>;
}

const OUTCOMES: readonly Outcome[] = ['ok', 'error', 'failed', 'none'];
const byEntry = new Map<EntryKind, EntrySeries>();

function seriesOf(entry: EntryKind): EntrySeries {
  let found = byEntry.get(entry);
  if (found === undefined) {
    const outcomes = Object.fromEntries(
      OUTCOMES.map((outcome) => [outcome, requestsTotal.series({ entry, outcome })]),
    ) as Record<Outcome, CountSeries>;
    found = {
      inFlight: requestsInFlight.series({ entry }),
      seconds: requestSeconds.series({ entry }),
      outcomes,
    };
    byEntry.set(entry, found);
  }
  return found;
}

export function requestStarted(entry: EntryKind): void {
  seriesOf(entry).inFlight.value++;
}

export function requestFinished(entry: EntryKind, outcome: Outcome, startedMs: number): void {
  const series = seriesOf(entry);
  series.inFlight.value--;
  series.outcomes[outcome].value++;
  series.seconds.observe((performance.now() - startedMs) / 1000);
}
