/**
 * What ends a connection whose peer makes us work for nothing: stream resets, refused streams and stream
 * errors beyond a burst and a sustained rate ("rapid reset", "reset flood"), frames that carry no call
 * forward beyond another such budget ("resource loop", "empty frames", "settings flood", "data
 * dribble"), PINGs more often than the server's keepalive policy allows, and replies it provokes without
 * reading them ("ping flood", "settings flood"). Each check throws a ConnectionError with
 * ENHANCE_YOUR_CALM; the connection answers it with GOAWAY. SECURITY.md#flood-budget lists them.
 */
import { ConnectionError } from './errors.js';
import { ErrorCode } from './codes.js';
import {
  MAX_PENDING_REPLY_BYTES,
  RESET_BURST,
  RESET_REFILL_PER_SECOND,
  UNPRODUCTIVE_FRAME_BURST,
  UNPRODUCTIVE_FRAME_REFILL_PER_SECOND,
} from './limits.js';

/** The time source of the rate checks; tests pass their own. */
export interface TimeSource {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const SYSTEM_TIME: TimeSource = { now: Date.now };

/**
 * Server side, the original's keepalive enforcement: a PING sooner than `minIntervalMs` after the
 * previous one is a strike unless we sent headers or data in between; more than `maxStrikes` strikes
 * end the connection with ENHANCE_YOUR_CALM ("too_many_pings"), as grpc-go does.
 */
export interface PingPolicy {
  minIntervalMs: number;
  maxStrikes: number;
}

/** A token bucket: `burst` tokens, refilled at `perSecond`; take() is false when none is left. */
class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly time: TimeSource,
    private readonly burst: number,
    private readonly perSecond: number,
  ) {
    this.tokens = burst;
    this.refilledAt = time.now();
  }

  take(): boolean {
    const now = this.time.now();
    const elapsedMs = Math.max(0, now - this.refilledAt);
    this.refilledAt = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.perSecond) / 1000);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class AbuseGuards {
  /** Resets the peer may still cause now (see RESET_BURST). */
  private readonly resets: TokenBucket;
  /** Frames without progress the peer may still send now (see UNPRODUCTIVE_FRAME_BURST). */
  private readonly unproductive: TokenBucket;
  private lastPingAt = 0;
  private pingStrikes = 0;
  /** Set whenever we send HEADERS or DATA: the peer's next PING starts a new count (see PingPolicy). */
  sentStreamFrames = false;

  constructor(
    private readonly time: TimeSource = SYSTEM_TIME,
    private readonly pingPolicy?: PingPolicy,
  ) {
    this.resets = new TokenBucket(time, RESET_BURST, RESET_REFILL_PER_SECOND);
    this.unproductive = new TokenBucket(time, UNPRODUCTIVE_FRAME_BURST, UNPRODUCTIVE_FRAME_REFILL_PER_SECOND);
  }

  /** A stream reset by the peer, refused by us or reset for the peer's error; `what` names it in the error. */
  countReset(what: string): void {
    if (!this.resets.take()) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `too many ${what} per second`);
    }
  }

  /** A frame that costs work but carries no call forward; `what` names its kind in the error. */
  countUnproductive(what: string): void {
    if (!this.unproductive.take()) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `too many ${what}`);
    }
  }

  /** A PING from the peer (not an acknowledgement). */
  countPing(): void {
    const policy = this.pingPolicy;
    if (!policy) return;
    if (this.sentStreamFrames) {
      this.sentStreamFrames = false;
      this.pingStrikes = 0;
      this.lastPingAt = 0;
    }
    const now = this.time.now();
    if (this.lastPingAt !== 0 && now - this.lastPingAt < policy.minIntervalMs) {
      if (++this.pingStrikes > policy.maxStrikes) {
        throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too_many_pings');
      }
    }
    this.lastPingAt = now;
  }

  /**
   * Before queueing a reply the peer asked for (PING and SETTINGS acknowledgements, refusals): a peer
   * that keeps provoking them without reading would make our output grow without end. Past
   * MAX_PENDING_REPLY_BYTES of replies since the socket last had room, while it is backed up, the
   * connection ends. Our own data does not count.
   */
  checkUnreadReplies(replyBytes: number, socketBackedUp: boolean): void {
    if (replyBytes > MAX_PENDING_REPLY_BYTES && socketBackedUp) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'peer does not read what it asks for');
    }
  }
}
