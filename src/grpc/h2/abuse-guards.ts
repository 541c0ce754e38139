/**
 * What ends a connection whose peer makes us work for nothing: stream resets and refused streams beyond
 * a burst and a sustained rate ("rapid reset"), PINGs more often than the server's keepalive policy allows, and replies it
 * provokes without reading them ("ping flood", "settings flood"). Each check throws a ConnectionError
 * with ENHANCE_YOUR_CALM; the connection answers it with GOAWAY.
 */
import { ConnectionError } from './errors.js';
import { ErrorCode } from './codes.js';
import { MAX_PENDING_REPLY_BYTES, RESET_BURST, RESET_REFILL_PER_SECOND } from './limits.js';

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

export class AbuseGuards {
  /** Resets the peer may still cause now (a token bucket, see RESET_BURST); refilled on use. */
  private resetTokens = RESET_BURST;
  private resetsRefilledAt: number;
  private lastPingAt = 0;
  private pingStrikes = 0;
  /** Set whenever we send HEADERS or DATA: the peer's next PING starts a new count (see PingPolicy). */
  sentStreamFrames = false;

  constructor(
    private readonly time: TimeSource = SYSTEM_TIME,
    private readonly pingPolicy?: PingPolicy,
  ) {
    this.resetsRefilledAt = time.now();
  }

  /** A stream reset by the peer or refused by us; `what` names it in the error. */
  countReset(what: string): void {
    const now = this.time.now();
    const elapsedMs = Math.max(0, now - this.resetsRefilledAt);
    this.resetsRefilledAt = now;
    this.resetTokens = Math.min(RESET_BURST, this.resetTokens + (elapsedMs * RESET_REFILL_PER_SECOND) / 1000);
    if (this.resetTokens < 1) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `too many ${what} per second`);
    }
    this.resetTokens -= 1;
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
