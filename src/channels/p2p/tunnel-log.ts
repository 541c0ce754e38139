/**
 * The live P2P tunnels of this node, for the status page [docs/status.md]: those it brokered as caller
 * (to which peer, through which proxy) and those it accepted as callee (on which proxy's request). Each is
 * listed from its TLS connection's start until the socket closes; at most MAX_TUNNELS per side.
 */
import type { Duplex } from 'node:stream';
import { systemClock, type Clock } from '../../core/clock.js';

export const MAX_TUNNELS = 1024;

interface Tunnel {
  /** The other operator (caller side: the callee; callee side: the caller, when known). */
  peer: string;
  proxy: string;
  endpoint: string;
  since: number;
}

export interface TunnelView extends Tunnel {
  direction: 'out' | 'in';
}

export class P2pTunnels {
  private readonly live = new Map<Duplex, TunnelView>();

  constructor(private readonly clock: Clock = systemClock) {}

  /** A tunnel we brokered (`out`) or accepted (`in`) is up on `socket`. */
  opened(direction: 'out' | 'in', tunnel: Omit<Tunnel, 'since'>, socket: Duplex): void {
    if (this.live.size >= MAX_TUNNELS || socket.destroyed) return;
    this.live.set(socket, { direction, ...tunnel, since: this.clock.now() });
    socket.once('close', () => this.live.delete(socket));
  }

  view(): TunnelView[] {
    return [...this.live.values()];
  }

  /** The proxy of the live tunnel to `peer` we brokered, if any. */
  proxyTo(peer: string): string | undefined {
    for (const t of this.live.values()) if (t.direction === 'out' && t.peer === peer) return t.proxy;
    return undefined;
  }
}
