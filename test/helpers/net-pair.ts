/**
 * Test helpers for real loopback TCP: a listening server whose accepted sockets can be awaited, connected
 * socket pairs, and small waits on socket events.
 */
import net from 'node:net';
import { once } from 'node:events';
import { waitFor } from './wait.js';

export interface Listener {
  server: net.Server;
  port: number;
  /** Resolves with the next accepted socket. */
  accept(): Promise<net.Socket>;
  /** Closes the server and destroys every socket it accepted. */
  close(): Promise<void>;
}

export async function listen(options: net.ServerOpts = {}): Promise<Listener> {
  const server = net.createServer(options);
  const accepted: net.Socket[] = [];
  const waiting: ((socket: net.Socket) => void)[] = [];
  const queue: net.Socket[] = [];
  server.on('connection', (socket) => {
    accepted.push(socket);
    socket.on('error', () => undefined);
    const next = waiting.shift();
    if (next) next(socket);
    else queue.push(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    server,
    port,
    accept: () => {
      const socket = queue.shift();
      return socket ? Promise.resolve(socket) : new Promise((resolve) => waiting.push(resolve));
    },
    close: async () => {
      for (const socket of accepted) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function connect(
  port: number,
  options: Partial<net.TcpNetConnectOpts> = {},
): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, ...options });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

export interface Pair {
  /** Client side (connected by the test). */
  client: net.Socket;
  /** Server side (accepted). */
  server: net.Socket;
}

/** A connected client/server socket pair on the listener. */
export async function pair(listener: Listener, options: Partial<net.TcpNetConnectOpts> = {}): Promise<Pair> {
  const accepted = listener.accept();
  const client = await connect(listener.port, options);
  return { client, server: await accepted };
}

/** Resolves once the socket has taken at least `count` bytes from the kernel. */
export async function waitForBytesRead(socket: net.Socket, count: number, timeoutMs = 5_000): Promise<void> {
  await waitFor(() => socket.bytesRead >= count, { timeoutMs, what: `${count} bytes read`, intervalMs: 0 });
}

/** Collects everything the socket delivers until it ends or closes. */
export function collect(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) => {
    const done = (): void => resolve(Buffer.concat(chunks));
    socket.once('end', done);
    socket.once('close', done);
  });
}

/** Number of active (referenced) timers of the process. */
export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}
