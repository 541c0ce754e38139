/**
 * Sockets we dialled ourselves and serve as a gRPC server (P2P callee, GrpcServer.inject): a handle per
 * socket, so that whoever dialled it can end it gracefully later (a public proxy that drains its tunnels,
 * docs/protocol.md#p2p). The TLS socket the server gets after the handshake is matched to the dialled
 * socket by their TCP four-tuple (documented on both; unique among live connections).
 */
import type { Duplex } from 'node:stream';
import type { H2Connection } from './h2/connection.js';

/** A dialled socket the gRPC server serves; `close()` may come before or after its handshake. */
export interface InjectedConnection {
  /**
   * Graceful: GOAWAY (the peer opens no new calls here; calls in flight finish, then the socket ends). A
   * socket still in its TLS handshake carries no call yet and is closed at once.
   */
  close(): void;
  /** Runs once when the socket is gone (also at once if it already is). */
  onClose(listener: () => void): void;
}

interface TcpEnds {
  localAddress?: string | undefined;
  localPort?: number | undefined;
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
}

/** The TCP four-tuple of a socket; undefined for a stream that is not a connected TCP socket. */
export function fourTuple(socket: TcpEnds): string | undefined {
  const { localAddress, localPort, remoteAddress, remotePort } = socket;
  if (localPort === undefined || remotePort === undefined) return undefined;
  return `${localAddress ?? ''}:${localPort}|${remoteAddress ?? ''}:${remotePort}`;
}

class Handle implements InjectedConnection {
  private conn?: H2Connection;
  private closing = false;
  private gone = false;
  private listeners: (() => void)[] = [];

  constructor(private readonly socket: Duplex) {
    socket.once('close', () => this.ended());
  }

  close(): void {
    this.closing = true;
    if (this.conn) this.conn.close();
    else this.socket.destroy();
  }

  onClose(listener: () => void): void {
    if (this.gone) listener();
    else this.listeners.push(listener);
  }

  attach(conn: H2Connection): void {
    this.conn = conn;
    conn.onClose(() => this.ended());
    if (this.closing) conn.close();
  }

  private ended(): void {
    if (this.gone) return;
    this.gone = true;
    for (const l of this.listeners.splice(0)) l();
  }
}

/** The dialled sockets still in their handshake, by four-tuple (each entry ends with its socket). */
export class InjectedSockets {
  private readonly handshaking = new Map<string, Handle>();

  /** A handle for `socket`; one that is not a TCP socket can be closed, never matched to its connection. */
  add(socket: Duplex): InjectedConnection {
    const handle = new Handle(socket);
    const key = fourTuple(socket as TcpEnds);
    if (key !== undefined) {
      this.handshaking.set(key, handle);
      handle.onClose(() => {
        if (this.handshaking.get(key) === handle) this.handshaking.delete(key);
      });
    }
    return handle;
  }

  /** Whether a TLS socket runs on a socket we dialled that is still in its handshake. */
  has(tlsSocket: TcpEnds): boolean {
    const key = fourTuple(tlsSocket);
    return key !== undefined && this.handshaking.has(key);
  }

  /** The server set up `conn` on a TLS socket: if it is one we dialled, its handle now controls it. */
  served(tlsSocket: TcpEnds, conn: H2Connection): void {
    const key = fourTuple(tlsSocket);
    const handle = key === undefined ? undefined : this.handshaking.get(key);
    if (key === undefined || handle === undefined) return;
    this.handshaking.delete(key);
    handle.attach(conn);
  }

  get size(): number {
    return this.handshaking.size;
  }
}
