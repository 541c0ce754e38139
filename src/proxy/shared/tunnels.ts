/**
 * Book-keeping of live tunnels (spliced socket pairs) and of connections still in their opening phase
 * (reading a ClientHello or token), so a proxy can report them, cap the opening ones and tear everything
 * down on stop. Tunnels themselves have no lifetime cap (unlike the original).
 */
import type { Duplex } from 'node:stream';
import { logger } from '../../core/log.js';
import { splice, type SpliceResult } from './splice.js';
import { countLimitHit } from '../../net/metrics.js';
import { relayedBytes, type TunnelKind } from './metrics.js';

const log = logger('tunnels');

/**
 * A graceful stop lets live tunnels end by themselves for this long (a spliced HTTPS exchange finishing)
 * after the listeners closed, then cuts the rest (long-lived P2P tunnels: their calls then fail on the
 * caller's side as "may have been processed", or go elsewhere if they had not been sent).
 */
export const PROXY_DRAIN_MS = 1_000;

/** Default cap on connections that have not yet presented a ClientHello or token. */
export const DEFAULT_MAX_PENDING_CONNECTIONS = 1024;

export class TunnelRegistry {
  private readonly pairs = new Set<[Duplex, Duplex]>();
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
  splice(a: Duplex, b: Duplex, label: TunnelKind, initial?: Buffer): Promise<SpliceResult> {
    const pair: [Duplex, Duplex] = [a, b];
    this.pairs.add(pair);
    const onBytes = (direction: 'up' | 'down', bytes: number): void =>
      relayedBytes.inc({ kind: label, direction }, bytes);
    const done = splice(a, b, initial === undefined ? { onBytes } : { initial, onBytes });
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

  /** Resolves once no tunnel is live, or after `ms` (graceful stop: tunnels that end by themselves). */
  whenEmpty(ms: number): Promise<void> {
    if (this.pairs.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
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
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
  }
}
