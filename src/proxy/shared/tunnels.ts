/**
 * Book-keeping of live tunnels (spliced socket pairs) and of connections still in their opening phase
 * (reading a ClientHello or token), so a proxy can report them, cap the opening ones and tear everything
 * down on stop. Tunnels themselves have no lifetime cap (unlike the original).
 */
import type { Duplex } from 'node:stream';
import { logger } from '../../core/log.js';
import { splice, type SpliceResult } from './splice.js';

const log = logger('tunnels');

/** Default cap on connections that have not yet presented a ClientHello or token. */
export const DEFAULT_MAX_PENDING_CONNECTIONS = 1024;

export class TunnelRegistry {
  private readonly pairs = new Set<[Duplex, Duplex]>();
  private readonly pending = new Set<Duplex>();

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

  /** Splices `a` and `b` (optionally writing `initial` to `b` first) and tracks the pair until both close. */
  splice(a: Duplex, b: Duplex, label: string, initial?: Buffer): Promise<SpliceResult> {
    const pair: [Duplex, Duplex] = [a, b];
    this.pairs.add(pair);
    const done = splice(a, b, initial === undefined ? {} : { initial });
    return done.then((result) => {
      this.pairs.delete(pair);
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
