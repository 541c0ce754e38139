/**
 * Book-keeping of live tunnels (spliced socket pairs) and of connections still in their opening phase
 * (reading a ClientHello or token), so a proxy can report them, cap the opening ones and drain or tear
 * everything down on stop. Tunnels themselves have no lifetime cap (unlike the original).
 */
import type { Duplex } from 'node:stream';
import { logger } from '../../core/log.js';
import type { Deadline } from '../../core/deadline.js';
import { splice, type SpliceResult } from './splice.js';
import { countLimitHit } from '../../net/metrics.js';
import { relayedBytes, type TunnelKind } from './metrics.js';

const log = logger('tunnels');

/**
 * A graceful stop lets live tunnels end by themselves for this long (a spliced HTTPS exchange finishing)
 * after the listeners closed, then cuts the rest (long-lived P2P tunnels whose ends were not told: their
 * calls then fail on the caller's side as "may have been processed", or go elsewhere if not yet sent).
 */
export const PROXY_DRAIN_MS = 1_000;
/**
 * A P2P tunnel whose callee was told that the proxy stops (a drain notice, docs/protocol.md#p2p) gets this
 * long from the stop: the callee sent GOAWAY, so its calls in flight finish and the tunnel ends by itself
 * (the eps's own bound for calls in flight at a stop is the same, SHUTDOWN_DRAIN_MS).
 */
export const PROXY_NOTICED_DRAIN_MS = 5_000;

interface Tunnel {
  a: Duplex;
  b: Duplex;
  /** The operator at one end who can be told to drain it (P2P: the callee). */
  party?: string | undefined;
}

export interface TunnelOptions {
  /** Written to `b` first (normal mode: the replayed ClientHello). */
  initial?: Buffer | undefined;
  /** The operator at one end who can be told to drain the tunnel (P2P: the callee). */
  party?: string | undefined;
}

/** Default cap on connections that have not yet presented a ClientHello or token. */
export const DEFAULT_MAX_PENDING_CONNECTIONS = 1024;

export class TunnelRegistry {
  private readonly pairs = new Set<Tunnel>();
  private readonly pending = new Set<Duplex>();
  private emptyWaiters: (() => void)[] = [];

  constructor(private readonly maxPending: number = DEFAULT_MAX_PENDING_CONNECTIONS) {}

  /** Live tunnels. */
  get size(): number {
    return this.pairs.size;
  }

  /** Connections in their opening phase. */
  get pendingSize(): number {
    return this.pending.size;
  }

  /**
   * Registers a connection in its opening phase; false (and the socket is destroyed) when the cap is
   * reached. The registration ends with `settled` or when the socket closes.
   */
  admit(socket: Duplex): boolean {
    if (this.pending.size >= this.maxPending) {
      countLimitHit('proxy_pending_connections', 'proxy');
      socket.destroy();
      return false;
    }
    this.pending.add(socket);
    socket.once('close', () => this.pending.delete(socket));
    return true;
  }

  settled(socket: Duplex): void {
    this.pending.delete(socket);
  }

  /**
   * Splices `a` and `b` (optionally writing `initial` to `b` first) and tracks the pair until both close;
   * the bytes count in proxy_relayed_bytes_total under `label`.
   */
  splice(a: Duplex, b: Duplex, label: TunnelKind, options: TunnelOptions = {}): Promise<SpliceResult> {
    const pair: Tunnel = { a, b, party: options.party };
    this.pairs.add(pair);
    const onBytes = (direction: 'up' | 'down', bytes: number): void =>
      relayedBytes.inc({ kind: label, direction }, bytes);
    const done = splice(
      a,
      b,
      options.initial === undefined ? { onBytes } : { initial: options.initial, onBytes },
    );
    return done.then((result) => {
      this.pairs.delete(pair);
      if (this.pairs.size === 0) for (const wake of this.emptyWaiters.splice(0)) wake();
      log.debug('tunnel closed', {
        kind: label,
        reason: result.reason,
        up: result.aToB,
        down: result.bToA,
        error: result.error?.message,
      });
      return result;
    });
  }

  /** The distinct parties of live tunnels (whom a drain notice concerns). */
  parties(): Set<string> {
    const out = new Set<string>();
    for (const t of this.pairs) if (t.party !== undefined) out.add(t.party);
    return out;
  }

  /**
   * Graceful stop: a tunnel whose party is in `told` may end by itself until `toldBy`, any other until
   * `othersBy`; each is cut at its bound. Resolves once no tunnel is left, or at the later bound (a tunnel
   * that opened meanwhile is left for destroyAll).
   */
  async drain(told: ReadonlySet<string>, othersBy: Deadline, toldBy: Deadline): Promise<void> {
    const cuts: (() => void)[] = [];
    const bound = (by: Deadline, fn: () => void): void => {
      const timer = by.onExpire(fn);
      cuts.push(() => by.cancelExpire(timer));
    };
    for (const t of this.pairs) {
      bound(t.party !== undefined && told.has(t.party) ? toldBy : othersBy, () => {
        if (!this.pairs.has(t)) return;
        log.info('tunnel cut at the end of the drain', { party: t.party ?? '' });
        t.a.destroy();
        t.b.destroy();
      });
    }
    await new Promise<void>((resolve) => {
      bound(toldBy.at > othersBy.at ? toldBy : othersBy, resolve);
      void this.whenEmpty().then(resolve);
    });
    for (const cancel of cuts) cancel();
  }

  /** Resolves once no tunnel is live, or after `ms` (graceful stop: tunnels that end by themselves). */
  whenEmpty(ms?: number): Promise<void> {
    if (this.pairs.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer =
        ms === undefined
          ? undefined
          : setTimeout(() => {
              this.emptyWaiters = this.emptyWaiters.filter((w) => w !== wake);
              resolve();
            }, ms);
      this.emptyWaiters.push(wake);
    });
  }

  /** Destroys every tracked socket. */
  destroyAll(): void {
    for (const socket of this.pending) socket.destroy();
    this.pending.clear();
    for (const { a, b } of this.pairs) {
      a.destroy();
      b.destroy();
    }
  }
}
