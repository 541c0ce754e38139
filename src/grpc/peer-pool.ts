/**
 * Pool of gRPC sessions, one per peer operator, reused across calls (HTTP/2 multiplexing). A broken session
 * is replaced on the next call; repeated connection failures back off exponentially (with jitter), and a
 * call that needs the peer brings the next attempt forward to at most RECONNECT_BACKOFF.demandGapMs after
 * the last failure (core/backoff.ts, wake on demand): a peer that is back is used again within that gap,
 * and a dead one gets at most one dial per gap however many calls wait. A call waits for the attempt
 * within its deadline, or fails at once if the attempt is due after it.
 */
import { logger } from '../core/log.js';
import { Backoff } from '../core/backoff.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Deadline } from '../core/deadline.js';
import { GrpcSession } from './client.js';
import { DialError, type DialResult } from './dial.js';
import type { PinnedPeer } from '../tls/pinned-peer.js';

const log = logger('grpc-pool');

/**
 * Reconnect backoff per peer: 100 ms doubling up to 10 s, half of it random; while calls wait for the peer
 * (channels/safe-retry.ts), an attempt at most 200 ms after the last failure: a restarted peer or proxy is
 * used again within that gap, and a dead one gets at most 5 dials (or brokerings) a second.
 */
export const RECONNECT_BACKOFF = Object.freeze({
  initialMs: 100,
  maxMs: 10_000,
  jitter: 0.5,
  demandGapMs: 200,
});
export const MAX_POOLED_PEERS = 10_000;

export interface PooledSession {
  session: GrpcSession;
  /** The server as verified at the handshake (tls/pinned-peer.ts). */
  peer: PinnedPeer;
  /** Opaque description of how it was reached (address, or proxy); a change forces a new session. */
  route: string;
  /** When it was opened (ms, on the pool's clock). */
  openedAt?: number;
}

/** One peer of the pool as the status page shows it. */
export interface PoolSlotView {
  peer: string;
  /** `open`: a live session; `connecting`: a dial under way; `down`: none (the next call dials). */
  state: 'open' | 'connecting' | 'down';
  route?: string;
  /** ms on the pool's clock. */
  openedAt?: number;
  /** Connection attempts failed in a row. */
  failures: number;
}

interface Slot {
  current?: PooledSession;
  connecting?: Promise<PooledSession>;
  backoff: Backoff;
}

export type Connector = () => Promise<DialResult>;

export class PeerPool {
  private readonly slots = new Map<string, Slot>();
  private readonly sessionListeners: ((peer: string, pooled: PooledSession) => void)[] = [];

  /** `clock`: time source of the reconnect backoff (tests use a manual one). */
  constructor(private readonly clock: Clock = systemClock) {}

  /** The peer's session; a new connection is made within `deadline`, or the call fails. */
  async get(peer: string, route: string, connect: Connector, deadline: Deadline): Promise<PooledSession> {
    let slot = this.slots.get(peer);
    if (!slot) {
      if (this.slots.size >= MAX_POOLED_PEERS) this.evictOne();
      slot = { backoff: new Backoff({ ...RECONNECT_BACKOFF, clock: this.clock }) };
      this.slots.set(peer, slot);
    }
    if (slot.current && !slot.current.session.closed && slot.current.route === route) return slot.current;
    if (slot.current && slot.current.route !== route) {
      log.info('peer route changed, reconnecting', { peer, from: slot.current.route, to: route });
      slot.current.session.close();
      slot.current = undefined;
    }
    if (!slot.connecting) {
      // Checked here, not in connect(): a throw there before its first await would run its `finally`
      // before `slot.connecting` is assigned, leaving a rejected promise that every later get() returned.
      const wait = slot.backoff.demand();
      if (wait > 0 && wait >= deadline.remainingMs()) {
        throw new DialError(
          'ERR_DIAL_BACKING_OFF',
          `peer '${peer}' unreachable, next attempt in ${Math.ceil(wait)} ms`,
        );
      }
      slot.connecting = this.connect(peer, slot, route, connect);
    }
    return slot.connecting;
  }

  /** Called with every new session, once it is pooled (e.g. to send our directory tip on it). */
  onSession(listener: (peer: string, pooled: PooledSession) => void): void {
    this.sessionListeners.push(listener);
  }

  /** The open sessions, by peer. */
  *sessions(): IterableIterator<[string, PooledSession]> {
    for (const [peer, slot] of this.slots) {
      if (slot.current && !slot.current.session.closed) yield [peer, slot.current];
    }
  }

  /** Closes the peer's session (e.g. its certificate is no longer pinned); the next get() reconnects. */
  invalidate(peer: string): void {
    const slot = this.slots.get(peer);
    if (!slot?.current) return;
    slot.current.session.close();
    slot.current = undefined;
  }

  /** Drops every session (channel close). */
  closeAll(): void {
    for (const slot of this.slots.values()) slot.current?.session.close();
    this.slots.clear();
  }

  get size(): number {
    return this.slots.size;
  }

  /** Every peer with a slot (the status page). */
  view(): PoolSlotView[] {
    return [...this.slots].map(([peer, slot]) => {
      const live = slot.current !== undefined && !slot.current.session.closed ? slot.current : undefined;
      const state = live ? 'open' : slot.connecting ? 'connecting' : 'down';
      return {
        peer,
        state,
        failures: slot.backoff.attempts,
        ...(live
          ? { route: live.route, ...(live.openedAt !== undefined ? { openedAt: live.openedAt } : {}) }
          : {}),
      };
    });
  }

  private async connect(peer: string, slot: Slot, route: string, connect: Connector): Promise<PooledSession> {
    try {
      await slot.backoff.untilDue();
      const dialled = await connect();
      const session = new GrpcSession(peer, dialled.socket);
      const pooled: PooledSession = { session, peer: dialled.peer, route, openedAt: this.clock.now() };
      slot.current = pooled;
      slot.backoff.reset();
      session.onClose(() => {
        if (slot.current === pooled) slot.current = undefined;
      });
      for (const listener of this.sessionListeners) listener(peer, pooled);
      return pooled;
    } catch (e) {
      slot.backoff.fail();
      throw e;
    } finally {
      slot.connecting = undefined;
    }
  }

  private evictOne(): void {
    for (const [name, slot] of this.slots) {
      if (!slot.connecting) {
        slot.current?.session.close();
        this.slots.delete(name);
        return;
      }
    }
  }
}
