/**
 * Closed-loop load for the fault scenarios: `concurrency` workers call one method through a gateway back to
 * back until stopped, and every call is kept (start, end, outcome) so that a scenario can count the failures
 * around its fault and the time until calls succeed again.
 */
import { performance } from 'node:perf_hooks';
import { errorMessage } from '../../src/core/errors.js';
import type { GatewayCaller, GatewayReply } from '../gateway-client.js';

/**
 * Answers whose error says the call may have run at the peer (never retried silently, issue 11), or that
 * it did and its answer was not kept for its retry (channels/replayed-calls.ts).
 */
const MAY_HAVE_BEEN_PROCESSED = /may have been processed|already processed this call/i;
/** Calls kept per run; beyond it only the counters grow. */
const MAX_KEPT = 2_000_000;

/** The end of a gateway's error message (the innermost cause), or the start of a body that is not one. */
function rootCause(text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') return message.length > 120 ? `…${message.slice(-120)}` : message;
  } catch {
    // not JSON: the start of the body
  }
  return text.slice(0, 120);
}

export interface CallRecord {
  /** performance.now() at the start and at the end of the call. */
  start: number;
  end: number;
  ok: boolean;
  /** A failed call whose error says it may have been processed. */
  maybeProcessed: boolean;
  error?: string;
}

/** Whether a gateway reply is a success (HTTP 200 with a JSON-RPC result). */
export function succeeded(reply: GatewayReply): boolean {
  return reply.status === 200 && !reply.text.includes('"error":');
}

/** The outcome of one call through the gateway. */
export async function callOnce(client: GatewayCaller, method: string, params?: object): Promise<CallRecord> {
  const start = performance.now();
  try {
    const reply = await client.request(method, params);
    const ok = succeeded(reply);
    const record: CallRecord = { start, end: performance.now(), ok, maybeProcessed: false };
    if (!ok) {
      record.error = `HTTP ${reply.status}: ${rootCause(reply.text)}`;
      record.maybeProcessed = MAY_HAVE_BEEN_PROCESSED.test(reply.text);
    }
    return record;
  } catch (e) {
    const error = errorMessage(e);
    return { start, end: performance.now(), ok: false, maybeProcessed: false, error };
  }
}

export class BackgroundLoad {
  readonly calls: CallRecord[] = [];
  total = 0;
  failed = 0;
  firstError?: string;
  private running = true;
  private readonly workers: Promise<void>[];

  constructor(
    private readonly client: GatewayCaller,
    concurrency: number,
    readonly method = 'hd-2._ping',
    keep = true,
  ) {
    this.workers = Array.from({ length: concurrency }, async () => {
      while (this.running) {
        const r = await callOnce(this.client, this.method);
        this.total++;
        if (!r.ok) {
          this.failed++;
          this.firstError ??= r.error;
        }
        if (keep && this.calls.length < MAX_KEPT) this.calls.push(r);
        // A refused connection fails at once: do not spin while a process is down.
        if (!r.ok) await new Promise((res) => setTimeout(res, 10));
      }
    });
  }

  /** Stops the workers; resolves when every call in flight has ended (they have their own timeout). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }
}

export interface CallSummary {
  calls: number;
  failed: number;
  maybeProcessed: number;
  /** First error message seen (for the notes). */
  firstError?: string;
}

export function summarise(calls: CallRecord[]): CallSummary {
  const failed = calls.filter((c) => !c.ok);
  const summary: CallSummary = {
    calls: calls.length,
    failed: failed.length,
    maybeProcessed: failed.filter((c) => c.maybeProcessed).length,
  };
  if (failed[0]?.error) summary.firstError = failed[0].error;
  return summary;
}

/**
 * Milliseconds from `listenedAt` to the end of the first successful call that started after `faultAt`
 * and ended at or after `listenedAt`; undefined when none did.
 */
export function recoveryMs(calls: CallRecord[], faultAt: number, listenedAt: number): number | undefined {
  let first: number | undefined;
  for (const c of calls)
    if (c.ok && c.start >= faultAt && c.end >= listenedAt && (first === undefined || c.end < first))
      first = c.end;
  return first === undefined ? undefined : first - listenedAt;
}
