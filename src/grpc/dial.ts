/**
 * Opens the TLS connection to a peer's gRPC server and checks who answered: the certificate must carry the
 * intended operator name as DNS SAN (standard host-name check) AND be pinned in the directory for exactly
 * that operator (this binding was missing in the original; docs/protocol.md#identity-by-pinning).
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { CodedError } from '../core/errors.js';
import type { FailureKind } from '../core/outcome.js';
import { baseContextOptions, type LoadedTls } from '../tls/options.js';
import { identitiesFor, peerKey, type PeerIdentity, type PeerKey } from '../tls/identity.js';
import type { DirectoryEntry } from '../core/directory-entry.js';
import type { Deadline } from '../core/deadline.js';
import { logger } from '../core/log.js';

const log = logger('dial');

export interface DialResult {
  socket: tls.TLSSocket;
  /** All pinned identities of the server certificate when connecting. */
  identities: PeerIdentity[];
  /** The server certificate's names and fingerprint, to re-check pinning while the session is in use. */
  key: PeerKey;
}

export interface DialOptions {
  peer: string;
  tls: LoadedTls;
  lookup: (name: string) => DirectoryEntry | undefined;
  /** The TLS connection (and the TCP connect before it) must be up by then. */
  deadline: Deadline;
  /** A connected raw socket to run TLS over (P2P); otherwise `host`/`port` are dialled. */
  socket?: Duplex;
  host?: string;
  port?: number;
}

export type DialErrorCode = 'ERR_DIAL_NOT_PINNED' | 'ERR_DIAL_TIMEOUT' | 'ERR_DIAL_NO_H2' | 'ERR_DIAL_SOCKET';

/** Kinds (core/outcome.ts); a socket or TLS failure has its kind from its cause (the Node error code). */
const FAILURE: Record<DialErrorCode, FailureKind | undefined> = {
  ERR_DIAL_NOT_PINNED: 'unauthenticated',
  ERR_DIAL_TIMEOUT: 'peerUnreachable',
  ERR_DIAL_NO_H2: 'protocolViolation',
  ERR_DIAL_SOCKET: undefined,
};

/** A gRPC peer could not be dialled (TCP, TLS, pinning, ALPN). */
export class DialError extends CodedError<DialErrorCode> {
  readonly failure: FailureKind | undefined;

  constructor(code: DialErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.failure = FAILURE[code];
    this.name = 'DialError';
  }
}

/**
 * THE check of a dialled server [docs/protocol.md#identity-by-pinning], run after every handshake (first
 * dial, reconnect, P2P tunnel) and on a pooled session before reuse: the certificate must carry `peer` as
 * host name and be pinned in the directory for `peer`. It does not depend on the CA chain check, so
 * `insecure_skip_verify` (which only skips that chain check) never lets an unpinned server in.
 */
export function requirePinnedServer(
  peer: string,
  key: PeerKey | undefined,
  lookup: (name: string) => DirectoryEntry | undefined,
): PeerIdentity[] {
  if (!key) throw notPinned(peer, 'it presented no certificate');
  const identities = identitiesFor(key, lookup);
  if (!identities.some((i) => i.name === peer)) {
    throw notPinned(peer, `its fingerprint ${key.fingerprint} is not in the directory for '${peer}'`);
  }
  return identities;
}

function notPinned(peer: string, why: string): DialError {
  log.warn('refused server: certificate not pinned', { peer, reason: why });
  return new DialError(
    'ERR_DIAL_NOT_PINNED',
    `server certificate is not pinned for operator '${peer}': ${why}`,
  );
}

export function dialTls(opts: DialOptions): Promise<DialResult> {
  return new Promise((resolve, reject) => {
    const base: tls.ConnectionOptions = {
      ...baseContextOptions(opts.tls),
      servername: opts.peer,
      ALPNProtocols: ['h2'],
      // The standard host-name check; pinning is checked after the handshake (below), whatever the settings.
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(opts.peer, cert),
    };
    // Skips the CA chain (and host-name) check only: requirePinnedServer still runs on the session.
    if (opts.tls.settings.insecure_skip_verify) base.rejectUnauthorized = false;
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
      // Also covers resumed sessions, for which Node does not call checkServerIdentity.
      const key = peerKey(socket.getPeerCertificate());
      let identities: PeerIdentity[];
      try {
        identities = requirePinnedServer(opts.peer, key, opts.lookup);
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
      resolve({ socket, identities, key: key! });
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
