/**
 * Bounds the unauthenticated on every listener that accepts connections from anyone (issue 10, finding 3):
 * connections that have not shown who they are within a deadline are destroyed, and those still at it are
 * capped in total and per source address (over a cap: closed on arrival); see unfinished-connections.ts.
 *
 * TLS listeners (guardHandshakes): unfinished means the TLS handshake has not completed (Node's own
 * `handshakeTimeout` only emits tlsClientError and leaves the socket open); a failed handshake is
 * destroyed at once. The guard stands in front of the TLS server: it takes the server's own 'connection'
 * listeners off and calls them for a connection only once a whole ClientHello has arrived
 * (client-hello-bytes.ts). A connection that sends nothing or half a hello, or is refused by a cap,
 * costs a socket and a timer, not an OpenSSL session (10,000 of those had left the process's RSS
 * ~85 MiB higher after they were closed; SECURITY.md#flood-budget).
 *
 * Plain HTTP listeners (guardFirstRequest: metrics, JSON-RPC without TLS): unfinished means no request
 * has arrived yet (Node checks its own headers timeout only every 30 s).
 *
 * Deadlines run on a Clock, so tests drive them.
 */
import net from 'node:net';
import type http from 'node:http';
import type tls from 'node:tls';
import { logger } from '../core/log.js';
import type { Clock } from '../core/clock.js';
import { awaitClientHello } from './client-hello-bytes.js';
import { UnfinishedConnections, type UnfinishedLimits } from './unfinished-connections.js';

export { MAX_HANDSHAKING_CONNECTIONS, MAX_HANDSHAKING_PER_ADDRESS } from './unfinished-connections.js';
export type HandshakeLimits = UnfinishedLimits;

const log = logger('handshake-guard');

type ConnectionListener = (socket: net.Socket) => void;

const ignoreError = (): void => undefined;

/**
 * Attaches the guard to a TLS `server`, right after it was created (its 'connection' listeners then are
 * the TLS server's own). Listeners added later still see every connection on arrival, those refused by a
 * cap already destroyed. Returns a function that exempts a socket before it is emitted as a connection
 * (sockets we dialled ourselves, e.g. P2P, are neither counted nor held).
 */
export function guardHandshakes(
  server: tls.Server,
  limits: HandshakeLimits,
  clock: Clock,
  label: string,
): (socket: object) => void {
  const unfinished = new UnfinishedConnections(limits, clock, label, 'TLS handshake');
  const exempt = new WeakSet();
  /** The TLS server's own: they create the TLS state of a connection. */
  const tlsListeners = server.listeners('connection') as ConnectionListener[];
  server.removeAllListeners('connection');
  const onward = (socket: net.Socket): void => {
    for (const listener of tlsListeners) listener.call(server, socket);
  };

  /** Passes the connection on once its ClientHello is whole. */
  const holdForHello = (socket: net.Socket): void => {
    awaitClientHello(socket).then(
      (hello) => {
        if (socket.destroyed) return;
        socket.off('error', ignoreError);
        socket.unshift(hello);
        onward(socket);
      },
      (err: Error) => {
        if (!socket.destroyed) {
          log.debug('connection closed: no TLS ClientHello', { listener: label, error: err.message });
        }
        socket.destroy();
      },
    );
  };

  server.on('connection', (socket: net.Socket) => {
    if (exempt.has(socket) || !(socket instanceof net.Socket)) return onward(socket);
    socket.on('error', ignoreError);
    if (unfinished.admit(socket)) holdForHello(socket);
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => unfinished.finished(socket));
  // A failed handshake (including Node's own handshake timeout) ends the connection now.
  server.on('tlsClientError', (_err: Error, socket: tls.TLSSocket) => socket.destroy());
  return (socket) => exempt.add(socket);
}

/** The same bounds for a plain HTTP `server`: a connection is finished once its first request arrived. */
export function guardFirstRequest(
  server: http.Server,
  limits: HandshakeLimits,
  clock: Clock,
  label: string,
): void {
  const unfinished = new UnfinishedConnections(limits, clock, label, 'first request');
  // Before the HTTP server's own listener: a refused socket is destroyed before it is parsed.
  server.prependListener('connection', (socket: net.Socket) => {
    socket.on('error', ignoreError);
    unfinished.admit(socket);
  });
  server.on('request', (req: http.IncomingMessage) => unfinished.finished(req.socket));
}
