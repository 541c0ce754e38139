/**
 * Bounds the unauthenticated on a TLS listener (issue 10, finding 3): a connection that has not finished
 * its TLS handshake within the deadline is destroyed (Node's own `handshakeTimeout` only emits
 * tlsClientError and leaves the socket open), a failed handshake is destroyed at once, and connections
 * still handshaking are capped in total and per source address (over the cap: closed on arrival).
 * The deadline runs on a Clock, so tests drive it.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { logger } from '../core/log.js';
import type { Clock, TimerHandle } from '../core/clock.js';

const log = logger('handshake-guard');

/** Connections still in their TLS handshake, at most, per listener. */
export const MAX_HANDSHAKING_CONNECTIONS = 1024;
/** Connections still in their TLS handshake, at most, from one source address per listener. */
export const MAX_HANDSHAKING_PER_ADDRESS = 64;

export interface HandshakeLimits {
  /** The handshake must finish within this time after the TCP connection was accepted. */
  timeoutMs: number;
  /** Default MAX_HANDSHAKING_CONNECTIONS. */
  maxHandshaking?: number;
  /** Default MAX_HANDSHAKING_PER_ADDRESS. */
  maxHandshakingPerAddress?: number;
}

interface Pending {
  socket: net.Socket;
  address: string;
  timer: TimerHandle;
}

/** The raw socket and the TLS socket over it share the peer's address and port. */
function keyOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}

/**
 * Attaches the guard to `server`. Returns a function that exempts a socket before it is emitted as a
 * connection (sockets we dialled ourselves, e.g. P2P, are not counted).
 */
export function guardHandshakes(
  server: tls.Server,
  limits: HandshakeLimits,
  clock: Clock,
  label: string,
): (socket: object) => void {
  const maxTotal = limits.maxHandshaking ?? MAX_HANDSHAKING_CONNECTIONS;
  const maxPerAddress = limits.maxHandshakingPerAddress ?? MAX_HANDSHAKING_PER_ADDRESS;
  const pending = new Map<string, Pending>();
  const perAddress = new Map<string, number>();
  const exempt = new WeakSet();

  const settle = (key: string, entry: Pending): void => {
    if (pending.get(key) !== entry) return;
    pending.delete(key);
    clock.clearTimeout(entry.timer);
    const left = (perAddress.get(entry.address) ?? 1) - 1;
    if (left > 0) perAddress.set(entry.address, left);
    else perAddress.delete(entry.address);
  };

  server.on('connection', (socket: net.Socket) => {
    if (exempt.has(socket)) return;
    const address = socket.remoteAddress;
    if (address === undefined || socket.destroyed) return;
    const fromAddress = perAddress.get(address) ?? 0;
    if (pending.size >= maxTotal || fromAddress >= maxPerAddress) {
      log.debug('connection closed: too many TLS handshakes in progress', {
        listener: label,
        ip: address,
        total: pending.size,
        fromAddress,
      });
      socket.destroy();
      return;
    }
    const key = keyOf(socket);
    const timer = clock.setTimeout(() => {
      log.debug('connection closed: TLS handshake not finished in time', { listener: label, ip: address });
      socket.destroy();
    }, limits.timeoutMs);
    timer.unref();
    const entry: Pending = { socket, address, timer };
    pending.set(key, entry);
    perAddress.set(address, fromAddress + 1);
    socket.once('close', () => settle(key, entry));
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const key = keyOf(socket);
    const entry = pending.get(key);
    if (entry) settle(key, entry);
  });
  // A failed handshake (including Node's own handshake timeout) ends the connection now.
  server.on('tlsClientError', (_err: Error, socket: tls.TLSSocket) => socket.destroy());
  return (socket) => exempt.add(socket);
}
