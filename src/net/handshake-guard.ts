/**
 * Bounds the unauthenticated on a TLS listener (issue 10, finding 3): a connection that has not finished
 * its TLS handshake within the deadline is destroyed (Node's own `handshakeTimeout` only emits
 * tlsClientError and leaves the socket open), a failed handshake is destroyed at once, and connections
 * still handshaking are capped in total and per source address (over the cap: closed on arrival).
 *
 * The guard stands in front of the TLS server: it takes the TLS server's own 'connection' listeners off
 * and calls them for a connection only once a whole ClientHello has arrived (client-hello-bytes.ts). A
 * connection that sends nothing or half a hello, or is refused by a cap, costs a socket and a timer, not
 * an OpenSSL session (~60 KB each; 10,000 of those left the process's RSS raised after they were closed).
 * The deadline runs on a Clock, so tests drive it.
 */
import net from 'node:net';
import type tls from 'node:tls';
import { logger } from '../core/log.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { awaitClientHello } from './client-hello-bytes.js';

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
  address: string;
  timer: TimerHandle;
}

type ConnectionListener = (socket: net.Socket) => void;

/** The raw socket and the TLS socket over it share the peer's address and port. */
function keyOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}

const ignoreError = (): void => undefined;

/**
 * Attaches the guard to `server`, right after it was created (its 'connection' listeners then are the TLS
 * server's own). Listeners added later still see every connection on arrival, those refused by a cap
 * already destroyed. Returns a function that exempts a socket before it is emitted as a connection
 * (sockets we dialled ourselves, e.g. P2P, are neither counted nor held).
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

  /** The TLS server's own: they create the TLS state of a connection. */
  const tlsListeners = server.listeners('connection') as ConnectionListener[];
  server.removeAllListeners('connection');
  const onward = (socket: net.Socket): void => {
    for (const listener of tlsListeners) listener.call(server, socket);
  };

  /** Counts the connection, starts its deadline, and passes it on once its ClientHello is complete. */
  const admit = (socket: net.Socket): void => {
    socket.on('error', ignoreError);
    const address = socket.remoteAddress;
    if (address === undefined || socket.destroyed) {
      socket.destroy();
      return;
    }
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
    const entry: Pending = { address, timer };
    pending.set(key, entry);
    perAddress.set(address, fromAddress + 1);
    socket.once('close', () => settle(key, entry));
    awaitClientHello(socket).then(
      (hello) => {
        if (socket.destroyed) return;
        socket.off('error', ignoreError);
        socket.unshift(hello);
        onward(socket);
      },
      (err: Error) => {
        if (!socket.destroyed)
          log.debug('connection closed: no TLS ClientHello', {
            listener: label,
            ip: address,
            error: err.message,
          });
        socket.destroy();
      },
    );
  };

  server.on('connection', (socket: net.Socket) => {
    if (exempt.has(socket) || !(socket instanceof net.Socket)) onward(socket);
    else admit(socket);
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
