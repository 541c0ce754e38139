/**
 * The bookkeeping of connections that have not yet shown who they are (a TLS handshake not finished, or,
 * on a plain HTTP listener, no request yet): at most `maxTotal` at once and `maxPerAddress` from one
 * source address (more: closed on arrival), each destroyed when it is still unfinished at its deadline.
 * Used by handshake-guard.ts for every listener that accepts connections from anyone.
 */
import type net from 'node:net';
import { logger } from '../core/log.js';
import type { Clock, TimerHandle } from '../core/clock.js';

const log = logger('connection-guard');

/** Connections still in their TLS handshake (or without a request), at most, per listener. */
export const MAX_HANDSHAKING_CONNECTIONS = 1024;
/** The same from one source address, per listener. */
export const MAX_HANDSHAKING_PER_ADDRESS = 64;

export interface UnfinishedLimits {
  /** The connection must be finished within this time after it was accepted. */
  timeoutMs: number;
  /** Default MAX_HANDSHAKING_CONNECTIONS. */
  maxHandshaking?: number | undefined;
  /** Default MAX_HANDSHAKING_PER_ADDRESS. */
  maxHandshakingPerAddress?: number | undefined;
}

interface Pending {
  address: string;
  timer: TimerHandle;
}

/** The raw socket and a TLS socket over it share the peer's address and port. */
function keyOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}

export class UnfinishedConnections {
  private readonly pending = new Map<string, Pending>();
  private readonly perAddress = new Map<string, number>();
  private readonly maxTotal: number;
  private readonly maxPerAddress: number;

  constructor(
    private readonly limits: UnfinishedLimits,
    private readonly clock: Clock,
    /** Names the listener in log lines. */
    private readonly label: string,
    /** What it is the connection has not finished, for log lines ("TLS handshake", "first request"). */
    private readonly what: string,
  ) {
    this.maxTotal = limits.maxHandshaking ?? MAX_HANDSHAKING_CONNECTIONS;
    this.maxPerAddress = limits.maxHandshakingPerAddress ?? MAX_HANDSHAKING_PER_ADDRESS;
  }

  /**
   * A new connection: counted and given its deadline, or destroyed at once (over a cap, or already gone).
   * Returns whether it was admitted.
   */
  admit(socket: net.Socket): boolean {
    const address = socket.remoteAddress;
    if (address === undefined || socket.destroyed) {
      socket.destroy();
      return false;
    }
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (this.pending.size >= this.maxTotal || fromAddress >= this.maxPerAddress) {
      log.debug(`connection closed: too many connections without a ${this.what}`, {
        listener: this.label,
        ip: address,
        total: this.pending.size,
        fromAddress,
      });
      socket.destroy();
      return false;
    }
    const key = keyOf(socket);
    const timer = this.clock.setTimeout(() => {
      log.debug(`connection closed: ${this.what} not finished in time`, {
        listener: this.label,
        ip: address,
      });
      socket.destroy();
    }, this.limits.timeoutMs);
    timer.unref();
    const entry: Pending = { address, timer };
    this.pending.set(key, entry);
    this.perAddress.set(address, fromAddress + 1);
    socket.once('close', () => this.settle(key, entry));
    return true;
  }

  /** The connection of `socket` (the raw one or one over it) has finished: its deadline no longer applies. */
  finished(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): void {
    const key = keyOf(socket);
    const entry = this.pending.get(key);
    if (entry) this.settle(key, entry);
  }

  private settle(key: string, entry: Pending): void {
    if (this.pending.get(key) !== entry) return;
    this.pending.delete(key);
    this.clock.clearTimeout(entry.timer);
    const left = (this.perAddress.get(entry.address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(entry.address, left);
    else this.perAddress.delete(entry.address);
  }
}
