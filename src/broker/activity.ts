/**
 * Recent call activity for the status page [docs/status.md]: per peer the last call, its latency and the
 * counts; per minute the calls by method and status and the average latency by method
 * (metrics/minute-ring.ts); the last errors with their request ids. Everything is bounded (peers, keys per minute, errors kept). The Prometheus counters
 * (metrics.ts) stay the source for alerting: they are cumulative and have no per-call detail, which is
 * what an operator looks for here.
 */
import { parseAddress } from '../core/address.js';
import { errorMessage } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import { MinuteCounters, type MinuteCounts } from '../metrics/minute-ring.js';

/** Peers whose activity is kept (least recently active dropped first). */
export const MAX_PEERS = 1024;
/** Errors kept, newest first. */
export const MAX_ERRORS = 50;
/** Longest error message kept. */
export const MAX_MESSAGE_CHARS = 500;
/** Weight of the newest latency in the moving average. */
const LATENCY_WEIGHT = 0.2;

/** `in`: a peer called us; `out`: we (our gateway, backend or async outbox) called the peer. */
export type Direction = 'in' | 'out';

export interface CallEvent {
  direction: Direction;
  /** The other operator: the caller (in) or the recipient (out). */
  peer: string;
  method: string;
  outcome: CallStatus;
  latencyMs: number;
  requestId: string;
  /** The error of an `error` or `failed` outcome. */
  error?: string | undefined;
}

export interface PeerActivity {
  peer: string;
  last_call: string;
  last_direction: Direction;
  last_method: string;
  last_outcome: CallStatus;
  latency_ms: number;
  avg_latency_ms: number;
  calls: number;
  errors: number;
  last_error?: string;
  last_error_at?: string;
}

export interface ErrorRecord {
  at: string;
  request_id: string;
  method: string;
  peer: string;
  direction: Direction;
  outcome: CallStatus;
  message: string;
}

/** The average latency of each method's calls in one minute (methods without calls left out). */
export interface MinuteLatency {
  start: string;
  avg_ms: Record<string, number>;
}

/** Longest method name kept (a key of the per-minute counts). */
export const MAX_METHOD_CHARS = 120;

function clip(text: string, max = MAX_MESSAGE_CHARS): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** The message of a thrown error or of a response's `{code, message}`. */
function messageOf(error: unknown): string {
  if (
    typeof error === 'object' &&
    error !== null &&
    'message' in error &&
    typeof error.message === 'string'
  ) {
    return error.message;
  }
  return errorMessage(error);
}

/** The status of a call, as call-metrics.ts names it (`ok`, `none`, `error`, `denied`, `failed`). */
export type CallStatus = string;

/** What is kept per peer: PeerActivity with clock times instead of ISO strings (formatted when read). */
interface PeerState extends Omit<PeerActivity, 'last_call' | 'last_error_at'> {
  lastCallMs: number;
  lastErrorMs?: number;
}

export class CallActivity {
  /** Least recently active first; `newest` is the last key (a repeat caller is not moved again). */
  private readonly peers = new Map<string, PeerState>();
  private newest: string | undefined;
  private readonly minutes: MinuteCounters;
  /** Sum of the latencies (ms) per method and minute; divided by the minute's calls when read. */
  private readonly latencies: MinuteCounters;
  private errors: ErrorRecord[] = [];

  constructor(private readonly clock: Clock = systemClock) {
    this.minutes = new MinuteCounters(clock);
    this.latencies = new MinuteCounters(clock);
  }

  /** Called for every call: updates the peer's entry in place (no per-call objects or date strings). */
  record(event: CallEvent): void {
    const now = this.clock.now();
    const latency = Math.round(event.latencyMs * 10) / 10;
    const failed = event.outcome !== 'ok' && event.outcome !== 'none';
    this.minutes.add(`${event.method} ${event.outcome}`);
    this.latencies.add(event.method, event.latencyMs);
    let state = this.peers.get(event.peer);
    if (state === undefined) {
      state = {
        peer: event.peer,
        lastCallMs: now,
        last_direction: event.direction,
        last_method: event.method,
        last_outcome: event.outcome,
        latency_ms: latency,
        avg_latency_ms: latency,
        calls: 0,
        errors: 0,
      };
      this.peers.set(event.peer, state);
      if (this.peers.size > MAX_PEERS) {
        const oldest = this.peers.keys().next().value;
        if (oldest !== undefined) this.peers.delete(oldest);
      }
    } else {
      if (this.newest !== event.peer) {
        this.peers.delete(event.peer);
        this.peers.set(event.peer, state);
      }
      state.lastCallMs = now;
      state.last_direction = event.direction;
      state.last_method = event.method;
      state.last_outcome = event.outcome;
      state.latency_ms = latency;
      state.avg_latency_ms =
        Math.round((state.avg_latency_ms * (1 - LATENCY_WEIGHT) + latency * LATENCY_WEIGHT) * 10) / 10;
    }
    this.newest = event.peer;
    state.calls++;
    if (!failed) return;
    state.errors++;
    const message = clip(event.error ?? event.outcome);
    state.last_error = message;
    state.lastErrorMs = now;
    this.errors.unshift({
      at: new Date(now).toISOString(),
      request_id: clip(event.requestId),
      method: event.method,
      peer: event.peer,
      direction: event.direction,
      outcome: event.outcome,
      message,
    });
    if (this.errors.length > MAX_ERRORS) this.errors.length = MAX_ERRORS;
  }

  /**
   * One request the broker handled: from our own side (`ownName` is the client: out, to the operator its
   * id addresses) or from a peer (in); `startedMs` on performance.now().
   */
  delivered(
    ownName: string,
    request: { id: string; method: string },
    client: string | undefined,
    outcome: CallStatus,
    startedMs: number,
    /** A thrown error, or the error of a response. */
    error: unknown,
  ): void {
    const out = client === ownName;
    let peer = client ?? '(unknown)';
    if (out) {
      try {
        peer = parseAddress(request.id).operator;
      } catch {
        peer = '(invalid id)';
      }
    }
    this.record({
      direction: out ? 'out' : 'in',
      peer,
      method: clip(request.method, MAX_METHOD_CHARS),
      outcome,
      latencyMs: performance.now() - startedMs,
      requestId: request.id,
      error: error === undefined ? undefined : messageOf(error),
    });
  }

  peer(name: string): PeerActivity | undefined {
    const state = this.peers.get(name);
    return state && view(state);
  }

  /** Every peer with activity, most recent last. */
  allPeers(): PeerActivity[] {
    return [...this.peers.values()].map(view);
  }

  perMinute(): MinuteCounts[] {
    return this.minutes.snapshot();
  }

  /**
   * Per minute (as perMinute()), the average latency of each method's calls, in ms to 0.1. A method whose
   * calls the counts put under `(other)` (beyond their cap of keys) has no average that minute.
   */
  latencyPerMinute(): MinuteLatency[] {
    const counts = new Map(this.minutes.snapshot().map((m) => [m.start, m.counts]));
    return this.latencies.snapshot().map((minute) => {
      const calls = new Map<string, number>();
      for (const [key, n] of Object.entries(counts.get(minute.start) ?? {})) {
        const cut = key.lastIndexOf(' ');
        const method = cut < 0 ? key : key.slice(0, cut);
        calls.set(method, (calls.get(method) ?? 0) + n);
      }
      const avg: Record<string, number> = {};
      for (const [method, sum] of Object.entries(minute.counts)) {
        const n = calls.get(method);
        if (n !== undefined && n > 0) avg[method] = Math.round((sum / n) * 10) / 10;
      }
      return { start: minute.start, avg_ms: avg };
    });
  }

  lastErrors(): ErrorRecord[] {
    return [...this.errors];
  }
}

function view(state: PeerState): PeerActivity {
  const { lastCallMs, lastErrorMs, ...rest } = state;
  const activity: PeerActivity = { ...rest, last_call: new Date(lastCallMs).toISOString() };
  if (lastErrorMs !== undefined) activity.last_error_at = new Date(lastErrorMs).toISOString();
  return activity;
}
