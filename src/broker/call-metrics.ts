/**
 * Calls by peer operator, method and status, with their latency (docs/metrics.md#calls): what an operator
 * alerts on (error ratio per peer, slow methods). Labels are bounded: `peer` is an operator of the verified
 * directory (else `other`), `method` a method the callee's directory entry declares or one of the internal
 * methods (else `other`: a hostile caller's invented names never become labels), and at most
 * MAX_CALL_SERIES peer/method pairs get their own series (later ones count as `other`).
 */
import { parseAddress } from '../core/address.js';
import { OUTCOMES } from '../core/outcome.js';
import type { EpsRequest, EpsResponse } from '../core/messages.js';
import type { Directory } from '../directory/directory.js';
import { serviceFor } from '../directory/permissions.js';
import type { CallActivity } from './activity.js';
import { registry } from '../metrics/server.js';
import { HotCounter, HotHistogram, type CountSeries, type HistogramSeries } from '../core/hot-metrics.js';

/** `in`: from another operator; `out`: from our own applications (to a peer, or to our own backend). */
export type CallDirection = 'in' | 'out';
/** `ok`, `error` (an answer with an error), `denied` (permission denied), `failed` (broker error), `none`. */
export type CallStatus = 'ok' | 'error' | 'denied' | 'failed' | 'none';

/** Peer/method pairs with their own series; beyond, calls count under peer and method `other`. */
export const MAX_CALL_SERIES = 500;
const OTHER = 'other';
const INTERNAL_METHODS: ReadonlySet<string> = new Set([
  '_ping',
  '_directory',
  '_connectionRequest',
  '_respond',
  '_status',
]);

const calls = new HotCounter({
  name: 'eps_calls_total',
  help: 'Calls through the broker by direction, peer operator, method and status',
  labelNames: ['direction', 'peer', 'method', 'status'],
  registers: [registry],
});

const callSeconds = new HotHistogram({
  name: 'eps_call_duration_seconds',
  help: 'Time from a call entering the broker to its outcome, by direction, peer operator and method',
  labelNames: ['direction', 'peer', 'method'],
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
  registers: [registry],
});

export function callStatus(response: EpsResponse | null | undefined): CallStatus {
  if (response === undefined) return 'failed';
  if (response === null) return 'none';
  if (!response.error) return 'ok';
  return response.error.code === OUTCOMES.permissionDenied.jsonRpc ? 'denied' : 'error';
}

/** The counter and histogram series of one label set, resolved once. */
interface Series {
  count: CountSeries;
  seconds: HistogramSeries;
}

export class CallMetrics {
  private readonly series = new Set<string>();
  /** By direction, peer, method and status: at most 2 × (MAX_CALL_SERIES + 1) × 5 entries. */
  private readonly children = new Map<string, Series>();

  constructor(
    private readonly ownName: string,
    private readonly directory: Directory,
    /** Also told of every call, with its error (the status page's recent activity). */
    private readonly activity?: CallActivity,
  ) {}

  /**
   * Records one call; `caller` is the authenticated operator it came from (ours for our applications),
   * `error` what was thrown or the response's error.
   */
  record(
    request: EpsRequest,
    caller: string | undefined,
    status: CallStatus,
    startedMs: number,
    error?: unknown,
  ): void {
    const direction: CallDirection = caller === this.ownName ? 'out' : 'in';
    const { peer, method } = this.labels(request, caller, direction);
    const key = `${direction}\n${peer}\n${method}\n${status}`;
    let series = this.children.get(key);
    if (series === undefined) {
      series = {
        count: calls.series({ direction, peer, method, status }),
        seconds: callSeconds.series({ direction, peer, method }),
      };
      this.children.set(key, series);
    }
    series.count.value++;
    series.seconds.observe((performance.now() - startedMs) / 1000);
    this.activity?.delivered(this.ownName, request, caller, status, startedMs, error);
  }

  private labels(
    request: EpsRequest,
    caller: string | undefined,
    direction: CallDirection,
  ): { peer: string; method: string } {
    let operator: string;
    let name: string;
    try {
      ({ operator, method: name } = parseAddress(request.id));
    } catch {
      return { peer: OTHER, method: OTHER };
    }
    const peerName = direction === 'in' ? caller : operator;
    const peer = peerName !== undefined && this.directory.entry(peerName) ? peerName : OTHER;
    const callee = this.directory.entry(operator);
    const declared =
      request.method === `${operator}.${name}` &&
      (INTERNAL_METHODS.has(name) || (callee !== undefined && serviceFor(callee, name) !== undefined));
    const method = declared ? name : OTHER;
    const key = `${peer}\n${method}`;
    if (this.series.has(key)) return { peer, method };
    if (this.series.size >= MAX_CALL_SERIES) return { peer: OTHER, method: OTHER };
    this.series.add(key);
    return { peer, method };
  }
}
