/**
 * Opens the TLS connection to a peer's gRPC server and checks who answered with the one verifier of TLS
 * peers (tls/pinned-peer.ts): the certificate must carry the intended operator name as DNS SAN AND be
 * pinned in the directory for exactly that operator (this binding was missing in the original;
 * docs/protocol.md#identity-by-pinning). `insecure_skip_verify` skips only the CA chain check.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { CodedError } from '../core/errors.js';
import type { FailureKind } from '../core/outcome.js';
import { baseContextOptions, type LoadedTls } from '../tls/options.js';
import { verifyPeer, type DirectoryLookup, type PinnedPeer } from '../tls/pinned-peer.js';
import type { Deadline } from '../core/deadline.js';

export interface DialResult {
  socket: tls.TLSSocket;
  /** The server as verified at the handshake (re-checked with recheckPeer while the session is in use). */
  peer: PinnedPeer;
}

export interface DialOptions {
  peer: string;
  tls: LoadedTls;
  lookup: DirectoryLookup;
  /** The TLS connection (and the TCP connect before it) must be up by then. */
  deadline: Deadline;
  /** A connected raw socket to run TLS over (P2P); otherwise `host`/`port` are dialled. */
  socket?: Duplex;
  host?: string;
  port?: number;
}

export type DialErrorCode =
  | 'ERR_DIAL_TIMEOUT'
  | 'ERR_DIAL_NO_H2'
  | 'ERR_DIAL_SOCKET'
  /** The peer failed recently and its reconnect backoff outlasts the call's deadline (peer-pool.ts). */
  | 'ERR_DIAL_BACKING_OFF';

/** Kinds (core/outcome.ts); a socket or TLS failure has its kind from its cause (the Node error code). */
const FAILURE: Record<DialErrorCode, FailureKind | undefined> = {
  ERR_DIAL_TIMEOUT: 'peerUnreachable',
  ERR_DIAL_NO_H2: 'protocolViolation',
  ERR_DIAL_SOCKET: undefined,
  ERR_DIAL_BACKING_OFF: 'peerUnreachable',
};

/** A gRPC peer could not be dialled (TCP, TLS, ALPN); a refused certificate is a PeerRefusedError. */
export class DialError extends CodedError<DialErrorCode> {
  readonly failure: FailureKind | undefined;

  constructor(code: DialErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.failure = FAILURE[code];
    this.name = 'DialError';
  }
}

export function dialTls(opts: DialOptions): Promise<DialResult> {
  return new Promise((resolve, reject) => {
    const base: tls.ConnectionOptions = {
      ...baseContextOptions(opts.tls),
      servername: opts.peer,
      ALPNProtocols: ['h2'],
      // Node only records the chain verdict; verifyPeer (below) decides on every check with one reason.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    };
    const socket = opts.socket
      ? tls.connect({ ...base, socket: opts.socket })
      : tls.connect({ ...base, host: opts.host, port: opts.port });
    socket.setNoDelay(true);
    const { deadline } = opts;
    const withinMs = Math.max(1, deadline.remainingMs());
    const timer = deadline.onExpire(() => {
      socket.destroy();
      reject(
        new DialError(
          'ERR_DIAL_TIMEOUT',
          `TLS connection to '${opts.peer}' not established within ${withinMs} ms`,
        ),
      );
    });
    socket.once('secureConnect', () => {
      deadline.cancelExpire(timer);
      let peer: PinnedPeer;
      try {
        peer = verifyPeer(socket, {
          operator: opts.peer,
          requireCaChain: !opts.tls.settings.insecure_skip_verify,
          lookup: opts.lookup,
          path: opts.socket ? 'p2p_caller' : 'grpc_client',
        });
      } catch (e) {
        socket.destroy();
        reject(e);
        return;
      }
      if (socket.alpnProtocol !== 'h2') {
        socket.destroy();
        reject(new DialError('ERR_DIAL_NO_H2', `peer '${opts.peer}' did not negotiate HTTP/2`));
        return;
      }
      socket.removeAllListeners('error');
      resolve({ socket, peer });
    });
    socket.once('error', (err: Error) => {
      deadline.cancelExpire(timer);
      socket.destroy();
      reject(new DialError('ERR_DIAL_SOCKET', err.message, { cause: err }));
    });
  });
}

/** Plain TCP connect by a deadline (used for P2P connections to the proxy). */
export function connectTcp(host: string, port: number, deadline: Deadline): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const withinMs = Math.max(1, deadline.remainingMs());
    const timer = deadline.onExpire(() => {
      socket.destroy();
      reject(
        new DialError(
          'ERR_DIAL_TIMEOUT',
          `connection to ${host}:${port} not established within ${withinMs} ms`,
        ),
      );
    });
    socket.once('connect', () => {
      deadline.cancelExpire(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      deadline.cancelExpire(timer);
      reject(new DialError('ERR_DIAL_SOCKET', err.message, { cause: err }));
    });
  });
}
