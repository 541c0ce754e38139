/**
 * Which of a callee's public proxies brokers the next P2P tunnel [docs/protocol.md#p2p]: the one with the
 * lowest measured brokering time (an exponentially weighted moving average per proxy, on an injectable
 * Clock), proxies not yet measured first in the callee's order, so each gets measured once; a failed
 * brokering counts as FAILURE_PENALTY_MS, so a proxy that just failed goes to the back. When brokering
 * through one proxy fails, the next is tried. An attempt that is not the last gets an equal share of what
 * is left of the deadline, and no more than attemptCapMs() of its proxy (a proxy that accepts and never
 * answers would otherwise hold a call for half its deadline); the last attempt gets all that is left.
 */
import { systemClock, type Clock } from '../../core/clock.js';
import { Deadline } from '../../core/deadline.js';
import { CodedError, errorMessage } from '../../core/errors.js';
import { logger } from '../../core/log.js';
import type { FailureKind, KnownFailure } from '../../core/outcome.js';
import { brokeringAverageSeconds, brokeringSeconds, brokeringsTotal } from './metrics.js';

const log = logger('p2p-caller');

/** Weight of the newest measurement in the average. */
export const EWMA_WEIGHT = 0.3;
/** What a failed brokering counts as, in ms. */
export const FAILURE_PENALTY_MS = 30_000;
/** Proxies whose measurements are kept (least recently measured dropped first). */
export const MAX_MEASURED_PROXIES = 1024;
/** Longest attempt on a proxy not measured yet, when another proxy could still be tried. */
export const UNMEASURED_ATTEMPT_MS = 5_000;
/** An attempt on a measured proxy may take this many times its average before the next is tried... */
export const ATTEMPT_CAP_FACTOR = 8;
/** ...but never less than this (brokering includes the callee dialling the proxy; loaded hosts are slow). */
export const MIN_ATTEMPT_MS = 2_000;

/** Longest time an attempt on `proxy` may take while another proxy is left to try. */
export function attemptCapMs(latency: ProxyLatency, proxy: string): number {
  const average = latency.estimate(proxy);
  if (average === undefined) return UNMEASURED_ATTEMPT_MS;
  return Math.max(MIN_ATTEMPT_MS, ATTEMPT_CAP_FACTOR * average);
}

export class ProxyLatency {
  private readonly averages = new Map<string, number>();

  constructor(readonly clock: Clock = systemClock) {}

  /** Average brokering time of `proxy` in ms; undefined when never measured. */
  estimate(proxy: string): number | undefined {
    return this.averages.get(proxy);
  }

  /** Adds one brokering time (ms) of `proxy`. */
  record(proxy: string, ms: number): void {
    const old = this.averages.get(proxy);
    const next = old === undefined ? ms : old + EWMA_WEIGHT * (ms - old);
    this.averages.delete(proxy);
    this.averages.set(proxy, next);
    if (this.averages.size > MAX_MEASURED_PROXIES) {
      const oldest = this.averages.keys().next().value;
      if (oldest !== undefined) this.averages.delete(oldest);
    }
  }

  failed(proxy: string): void {
    this.record(proxy, FAILURE_PENALTY_MS);
  }

  /** `proxies` in the order to try them: unmeasured ones first (in the given order), then by average. */
  order(proxies: readonly string[]): string[] {
    const rank = (p: string): number => this.averages.get(p) ?? -1;
    return proxies
      .map((proxy, index) => ({ proxy, index, rank: rank(proxy) }))
      .sort((a, b) => a.rank - b.rank || a.index - b.index)
      .map((x) => x.proxy);
  }
}

/**
 * Every proxy failed; `failures` holds each proxy's reason, in the order they were tried. The peer cannot be
 * reached now (a marked asynchronous request waits in the outbox, docs/protocol.md#store-and-forward).
 */
export class BrokeringError extends CodedError<'ERR_P2P_BROKERING'> implements KnownFailure {
  readonly failure: FailureKind = 'peerUnreachable';

  constructor(
    readonly peer: string,
    readonly failures: ReadonlyArray<{ proxy: string; error: unknown }>,
  ) {
    const reasons = failures.map((f) => `${f.proxy}: ${errorMessage(f.error)}`).join('; ');
    super('ERR_P2P_BROKERING', `no proxy of ${peer} could broker a tunnel (${reasons})`);
    this.name = 'BrokeringError';
  }
}

/**
 * Brokers through `proxies` in latency order until one succeeds, measuring each attempt. Attempts run
 * one after another, each within its share of `deadline` (capped by attemptCapMs); the last gets all that
 * is left.
 */
export async function brokerThroughProxies<T>(
  peer: string,
  proxies: readonly string[],
  latency: ProxyLatency,
  deadline: Deadline,
  attempt: (proxy: string, deadline: Deadline) => Promise<T>,
): Promise<T> {
  const order = latency.order(proxies);
  const failures: { proxy: string; error: unknown }[] = [];
  const clock = latency.clock;
  for (const [i, proxy] of order.entries()) {
    if (deadline.expired) break;
    const last = i === order.length - 1;
    const fair = deadline.remainingMs() / (order.length - i);
    const share = deadline.within(last ? fair : Math.min(fair, attemptCapMs(latency, proxy)));
    const started = clock.now();
    const measured = (outcome: 'ok' | 'failed'): void => {
      brokeringsTotal.inc({ proxy, outcome });
      brokeringSeconds.observe({ proxy, outcome }, (clock.now() - started) / 1000);
      brokeringAverageSeconds.set({ proxy }, (latency.estimate(proxy) ?? 0) / 1000);
    };
    try {
      const result = await attempt(proxy, Deadline.at(share.at, share.clock));
      latency.record(proxy, clock.now() - started);
      measured('ok');
      return result;
    } catch (error) {
      latency.failed(proxy);
      measured('failed');
      failures.push({ proxy, error });
      if (i + 1 < order.length) {
        log.warn('brokering a tunnel failed; trying the next proxy', {
          peer,
          proxy,
          next: order[i + 1],
          error: errorMessage(error),
        });
      }
    }
  }
  if (failures.length === 0) failures.push({ proxy: order[0] ?? '-', error: new Error('deadline exceeded') });
  throw new BrokeringError(peer, failures);
}
