/**
 * Safe retries of one outgoing call [docs/protocol.md#safe-retries]. A call the peer provably did not
 * process — no connection could be made (dial, TLS or P2P brokering failed), or its stream was refused
 * (REFUSED_STREAM, above a GOAWAY's last stream id, still queued when its connection closed) — is tried
 * again; a call that may have been processed never is (grpc-client.ts), except once when the peer's replay
 * memory decides (a call lost with its connection before any answer byte, docs/protocol.md#replay-memory).
 *
 * The first retry is made at once. Later ones wait for the peer (or its proxy) to come back: they are made
 * while the call is younger than `waitMs` (grpc_client `reconnect_wait`) and its deadline and cancellation
 * allow, after a refused stream or a connection failure of the kind "peer unreachable" (core/outcome.ts;
 * not a refused certificate or a peer without HTTP/2). A new connection is paced by the pool's reconnect backoff (grpc/peer-pool.ts: one dial or
 * brokering per gap, shared by every waiting call); a refused stream on a live connection by
 * REFUSED_RETRY_BACKOFF of this call. A call that asked to fail fast (CallScope.failFast: asynchronous
 * calls, whose outbox keeps them instead, and the brokering calls inside a P2P dial) gets only the first
 * retry, and so does a call whose first attempts already took `waitMs` (a peer that accepts TCP and never
 * answers costs two connect timeouts, as before).
 *
 * Calls waiting this way are bounded per peer and in all (WaitingCalls); a call that finds no room ends
 * at once with WaitLimitError, which names the bound and the original failure.
 */
import { Backoff } from '../core/backoff.js';
import type { CallScope } from '../core/cancellation.js';
import type { Clock } from '../core/clock.js';
import { CodedError, errorMessage } from '../core/errors.js';
import { classify, type FailureKind, type KnownFailure } from '../core/outcome.js';

/** Calls that wait for one peer's return at the same time. */
export const MAX_WAITING_CALLS_PER_PEER = 512;
/** Calls that wait for any peer's return at the same time, in this process. */
export const MAX_WAITING_CALLS = 4096;
/** Pause before retrying a stream a live connection refused: 100 ms doubling up to 1 s, half random. */
export const REFUSED_RETRY_BACKOFF = Object.freeze({ initialMs: 100, maxMs: 1000, jitter: 0.5 });

/** How an attempt failed without the peer processing the call. */
export type Refusal = 'connection' | 'stream';

/** A call found the bound of waiting calls reached and fails instead of waiting for the peer. */
export class WaitLimitError extends CodedError<'ERR_PEER_WAIT_LIMIT'> implements KnownFailure {
  override readonly name = 'WaitLimitError';
  readonly failure: FailureKind = 'peerUnreachable';

  constructor(peer: string, bound: string, error: unknown) {
    super(
      'ERR_PEER_WAIT_LIMIT',
      `${errorMessage(error)}; not waiting for ${peer} to be reachable again: ${bound} (not processed by the peer)`,
      { cause: error },
    );
  }
}

/** Counts the calls waiting for a peer's return, per peer and in all (bounded). */
export class WaitingCalls {
  private readonly byPeer = new Map<string, number>();
  private total = 0;

  constructor(
    readonly perPeer = MAX_WAITING_CALLS_PER_PEER,
    readonly inAll = MAX_WAITING_CALLS,
  ) {}

  /** Counts one more call waiting for `peer`; when there is no room, says which bound is reached instead. */
  enter(peer: string): string | undefined {
    const mine = this.byPeer.get(peer) ?? 0;
    if (mine >= this.perPeer) return `${mine} calls already wait for it (MAX_WAITING_CALLS_PER_PEER)`;
    if (this.total >= this.inAll) return `${this.total} calls already wait for peers (MAX_WAITING_CALLS)`;
    this.byPeer.set(peer, mine + 1);
    this.total++;
    return undefined;
  }

  leave(peer: string): void {
    const mine = this.byPeer.get(peer);
    if (mine === undefined) return;
    if (mine <= 1) this.byPeer.delete(peer);
    else this.byPeer.set(peer, mine - 1);
    this.total--;
  }

  /** Calls waiting for `peer`, or for any peer. */
  waiting(peer?: string): number {
    return peer === undefined ? this.total : (this.byPeer.get(peer) ?? 0);
  }
}

export interface SafeRetryOptions {
  peer: string;
  /** The call's deadline and cancellation (on `clock`). */
  scope: CallScope;
  /** How long after its start the call may still begin an attempt beyond the first retry. */
  waitMs: number;
  waiting: WaitingCalls;
  clock: Clock;
  /** Uniform in [0, 1), for the jitter (default Math.random). */
  random?: () => number;
}

/** The retry decisions of one call (see the module comment). Call end() once the call is over. */
export class SafeRetry {
  private retries = 0;
  private counted = false;
  private readonly started: number;
  private refusals?: Backoff;
  private limited?: WaitLimitError;

  constructor(private readonly o: SafeRetryOptions) {
    this.started = o.clock.now();
  }

  /** Retries made so far. */
  get retried(): number {
    return this.retries;
  }

  /**
   * After an attempt failed without the peer processing the call: resolves true (after the pause it needs)
   * when the call goes again, false when it ends; then failure(error) is what it ends with.
   */
  async again(error: unknown, refusal: Refusal): Promise<boolean> {
    const { scope, clock } = this.o;
    if (!this.open()) return false;
    if (this.retries === 0) {
      this.retries++;
      return true;
    }
    const waitMs = scope.failFast ? 0 : this.o.waitMs;
    if (clock.now() - this.started >= waitMs) return false;
    // Waiting helps a peer that is down, not one whose certificate is refused or that speaks no HTTP/2.
    if (refusal === 'connection' && classify(error) !== 'peerUnreachable') return false;
    if (!this.counted) {
      const full = this.o.waiting.enter(this.o.peer);
      if (full !== undefined) {
        this.limited = new WaitLimitError(this.o.peer, full, error);
        return false;
      }
      this.counted = true;
    }
    this.retries++;
    if (refusal === 'stream') await this.pause();
    return this.open();
  }

  /** What the call ends with after `error` and again() said no: WaitLimitError if the bound stopped it. */
  failure(error: unknown): unknown {
    return this.limited ?? error;
  }

  /** The call is over: it no longer counts as waiting. */
  end(): void {
    if (this.counted) this.o.waiting.leave(this.o.peer);
    this.counted = false;
  }

  private open(): boolean {
    return !this.o.scope.deadline.expired && !this.o.scope.cancellation.cancelled;
  }

  /** This call's backoff after a refused stream, cut short when the call's scope ends. */
  private async pause(): Promise<void> {
    const { scope, clock, random } = this.o;
    this.refusals ??= new Backoff({ ...REFUSED_RETRY_BACKOFF, clock, ...(random ? { random } : {}) });
    const nap = this.refusals.sleep(Math.min(this.refusals.fail(), scope.deadline.remainingMs()));
    const unsubscribe = scope.cancellation.onCancel(nap.wake);
    try {
      await nap.done;
    } finally {
      unsubscribe();
    }
  }
}
