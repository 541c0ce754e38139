/**
 * Attacks on a TLS listener's handshake phase with real TCP sockets: connections that send nothing, half a
 * ClientHello or garbage, from chosen loopback source addresses; and the server side of each accepted
 * connection, whose `destroyed` flag shows synchronously whether the server has given up on it.
 */
import net from 'node:net';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { captureClientHello } from './tls-hello.js';
import { withDeadline } from './wait.js';
import type { ManualClock } from './manual-clock.js';

export interface Probe {
  /** The client socket. */
  client: net.Socket;
  /** The server's socket of the same connection (as emitted with 'connection'). */
  server: net.Socket;
  /** Resolves when the client sees the connection closed. */
  closed: Promise<void>;
}

/** Hands out the server's raw sockets in the order they were accepted. */
export class AcceptedSockets {
  private readonly queue: net.Socket[] = [];
  private readonly all: net.Socket[] = [];
  private waiting: ((s: net.Socket) => void) | undefined;

  constructor(server: net.Server) {
    server.on('connection', (socket: net.Socket) => {
      this.all.push(socket);
      const w = this.waiting;
      this.waiting = undefined;
      if (w) w(socket);
      else this.queue.push(socket);
    });
  }

  /** Ends every accepted connection (so that closing the server does not wait for them). */
  destroyAll(): void {
    for (const s of this.all) s.destroy();
  }

  next(): Promise<net.Socket> {
    const ready = this.queue.shift();
    if (ready) return Promise.resolve(ready);
    return withDeadline(new Promise<net.Socket>((resolve) => (this.waiting = resolve)), {
      timeoutMs: 5000,
      what: 'the server to accept a connection',
    });
  }
}

/** Opens a TCP connection to 127.0.0.1:`port` from `localAddress`, sends `bytes`, returns both ends. */
export async function probe(
  port: number,
  accepted: AcceptedSockets,
  bytes?: Buffer,
  localAddress = '127.0.0.1',
): Promise<Probe> {
  const client = net.connect({ host: '127.0.0.1', port, localAddress });
  client.on('error', () => undefined);
  const closed = once(client, 'close').then(() => undefined);
  client.resume();
  await withDeadline(once(client, 'connect'), { timeoutMs: 5000, what: 'the TCP connection' });
  const server = await accepted.next();
  if (bytes) client.write(bytes);
  return { client, server, closed };
}

/** The first half of a real ClientHello (a handshake that never completes). */
export async function halfClientHello(): Promise<Buffer> {
  const hello = await captureClientHello('ls-1');
  return hello.subarray(0, Math.floor(hello.length / 2));
}

/** Bytes that are no TLS record at all. */
export const GARBAGE = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');

export function closedSoon(p: Probe, what: string): Promise<void> {
  return withDeadline(p.closed, { timeoutMs: 5000, what });
}

/** Asserts the server keeps `p` open until 1 ms before `timeoutMs` on `clock`, closes it exactly then. */
export async function closedAtTimeout(
  clock: ManualClock,
  timeoutMs: number,
  p: Probe,
  what: string,
): Promise<void> {
  await clock.advance(timeoutMs - 1);
  assert.equal(p.server.destroyed, false, `${what}: still open 1 ms before the handshake timeout`);
  await clock.advance(1);
  assert.equal(p.server.destroyed, true, `${what}: closed by the server at the handshake timeout`);
  await closedSoon(p, `${what}: the client to see the close`);
}
