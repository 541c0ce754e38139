/**
 * Scripted HTTP/2 peers for testing our HTTP/2 client and server against behaviour that well-behaved
 * peers never show: each test writes raw frames and reads the other side's frames one by one. Here on
 * real TLS; test/helpers/h2-duplex.ts puts the same FakePeer on an in-memory stream with a manual clock.
 */
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Flag, FrameType, type Setting } from '../../src/grpc/h2/codes.js';
import { CLIENT_PREFACE, FrameReader, frameBytes, type Frame } from '../../src/grpc/h2/frames.js';
import { encodeHeaders, HpackDecoder, type HeaderMap } from '../../src/grpc/h2/hpack.js';
import { frame } from '../../src/grpc/framing.js';
import { huffmanCodes } from '../../src/grpc/h2/huffman.js';
import { GrpcSession } from '../../src/grpc/client.js';
import { GrpcError } from '../../src/grpc/status.js';
import { CERTS } from './network.js';
import { tlsConnect } from './grpc-local.js';
import { withDeadline } from './wait.js';

const { DATA, HEADERS, RST_STREAM, SETTINGS } = FrameType;
const { END_STREAM, END_HEADERS } = Flag;

/** The response headers of a successful gRPC answer. */
export const ANSWER_HEADERS = encodeHeaders([
  [':status', '200'],
  ['content-type', 'application/grpc'],
]);
/** The trailers of a successful gRPC answer. */
export const ANSWER_TRAILERS = encodeHeaders([['grpc-status', '0']]);

export class FakePeer {
  readonly decoder = new HpackDecoder();
  private readonly frames: Frame[] = [];
  private waiter?: () => void;
  private preface = Buffer.alloc(0);
  private readonly reader = new FrameReader(1 << 24);
  closed = false;

  /** `expectPreface`: this peer plays the server and first reads the client preface. */
  constructor(
    readonly socket: Duplex,
    expectPreface = true,
  ) {
    if (!expectPreface) this.preface = CLIENT_PREFACE;
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private onBytes(chunk: Buffer): void {
    if (this.preface.length < CLIENT_PREFACE.length) {
      const need = CLIENT_PREFACE.length - this.preface.length;
      this.preface = Buffer.concat([this.preface, chunk.subarray(0, need)]);
      chunk = chunk.subarray(need);
      if (this.preface.length === CLIENT_PREFACE.length && !this.preface.equals(CLIENT_PREFACE)) {
        this.socket.destroy();
        return;
      }
    }
    this.reader.push(chunk, (f) => this.frames.push({ ...f, payload: Buffer.from(f.payload) }));
    this.wake();
  }

  /**
   * The next frame from the other side matching `pred` (others before it are dropped); rejects when the
   * connection closes, or after `ms`.
   */
  async next(pred: (f: Frame) => boolean = () => true, ms = 5000): Promise<Frame> {
    const search = { abandoned: false };
    try {
      return await withDeadline(this.take(pred, search), {
        timeoutMs: ms,
        what: 'a frame from the other side',
      });
    } finally {
      // After a timeout the search must stop before the next one starts, or it would swallow its frames.
      search.abandoned = true;
      this.wake();
    }
  }

  private async take(pred: (f: Frame) => boolean, search: { abandoned: boolean }): Promise<Frame> {
    for (;;) {
      if (search.abandoned) throw new Error('abandoned');
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(0, i + 1)[i]!;
      this.frames.length = 0;
      if (this.closed) throw new Error('connection closed while waiting for a frame');
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Lets the waiting search look at the frames again. */
  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** Waits for the client's next request: its HEADERS (decoded) and, if it ended the stream, its body. */
  async request(): Promise<{ streamId: number; headers: HeaderMap; body: Buffer }> {
    const h = await this.next((f) => f.type === HEADERS);
    return { streamId: h.streamId, ...(await this.rest(h)) };
  }

  /** Reads the server's answer on a stream: response headers, body, and trailers (END_STREAM). */
  async response(streamId: number): Promise<{ headers: HeaderMap; body: Buffer; trailers: HeaderMap }> {
    const h = await this.next(
      (f) => (f.type === HEADERS || f.type === RST_STREAM) && f.streamId === streamId,
    );
    if (h.type === RST_STREAM) throw new Error(`stream reset with code ${h.payload.readUInt32BE(0)}`);
    if (h.flags & END_STREAM)
      return { headers: this.decoder.decode(h.payload).headers, body: Buffer.alloc(0), trailers: {} };
    const { headers, body } = await this.rest(h, true);
    const t = await this.next((f) => f.type === HEADERS && f.streamId === streamId);
    return { headers, body, trailers: this.decoder.decode(t.payload).headers };
  }

  /** The rest of a message after its HEADERS frame: DATA frames until END_STREAM (or, with `untilHeaders`, trailers). */
  private async rest(h: Frame, untilHeaders = false): Promise<{ headers: HeaderMap; body: Buffer }> {
    const headers = this.decoder.decode(h.payload).headers;
    const parts: Buffer[] = [];
    if (h.flags & END_STREAM) return { headers, body: Buffer.alloc(0) };
    for (;;) {
      if (untilHeaders && this.frames[0]?.type === HEADERS && this.frames[0].streamId === h.streamId) break;
      const d = await this.next(
        (f) => (f.type === DATA || (untilHeaders && f.type === HEADERS)) && f.streamId === h.streamId,
      );
      if (d.type === HEADERS) {
        this.frames.unshift(d);
        break;
      }
      parts.push(d.payload);
      if (d.flags & END_STREAM) break;
    }
    return { headers, body: Buffer.concat(parts) };
  }

  /** Any frame type, including unknown ones (the fuzz tests send them), hence `number`. */
  send(type: number, flags: number, streamId: number, payload?: Uint8Array): void {
    this.socket.write(frameBytes(type as FrameType, flags, streamId, payload));
  }

  /** A successful unary answer on a stream: response headers, one message, trailers with status 0. */
  answer(streamId: number, message: Uint8Array): void {
    this.send(HEADERS, END_HEADERS, streamId, ANSWER_HEADERS);
    this.send(DATA, 0, streamId, frame(message));
    this.send(HEADERS, END_HEADERS | END_STREAM, streamId, ANSWER_TRAILERS);
  }

  settings(values: [Setting, number][] = []): void {
    const p = Buffer.alloc(6 * values.length);
    values.forEach(([id, v], i) => {
      p.writeUInt16BE(id, 6 * i);
      p.writeUInt32BE(v, 6 * i + 2);
    });
    this.send(SETTINGS, 0, 0, p);
  }

  u32(type: number, streamId: number, value: number): void {
    const p = Buffer.alloc(4);
    p.writeUInt32BE(value, 0);
    this.send(type, 0, streamId, p);
  }
}

export interface FakeServer<T extends { destroy(): void } = GrpcSession> {
  session: T;
  peer: FakePeer;
  close: () => Promise<void>;
}

/**
 * Starts a TLS server, connects a client to it (a GrpcSession, or what `client` makes of the socket) and
 * returns both ends (the peer has not spoken yet).
 */
export async function fakeServer(): Promise<FakeServer>;
export async function fakeServer<T extends { destroy(): void }>(
  client: (socket: tls.TLSSocket) => T,
): Promise<FakeServer<T>>;
export async function fakeServer(
  client: (socket: tls.TLSSocket) => { destroy(): void } = (socket) => new GrpcSession('ls-1', socket),
): Promise<FakeServer<{ destroy(): void }>> {
  const { clientSocket, serverSocket, close } = await tlsPair();
  const session = client(clientSocket);
  const peer = new FakePeer(serverSocket);
  return {
    session,
    peer,
    async close() {
      session.destroy();
      await close();
    },
  };
}

/**
 * The other way round: the server end of a TLS connection is what `serve` makes of its socket (an
 * H2Connection in the server role), the client end a scripted peer that has sent the preface.
 */
export async function fakeClientOf<T extends { destroy(): void }>(
  serve: (socket: tls.TLSSocket) => T,
): Promise<{ server: T; peer: FakePeer; close: () => Promise<void> }> {
  const { clientSocket, serverSocket, close } = await tlsPair();
  const server = serve(serverSocket);
  const peer = new FakePeer(clientSocket, false);
  clientSocket.write(CLIENT_PREFACE);
  return {
    server,
    peer,
    async close() {
      server.destroy();
      clientSocket.destroy();
      await close();
    },
  };
}

/** A TLS server with ls-1's certificate and one connection to it (no client certificate). */
async function tlsPair(): Promise<{
  clientSocket: tls.TLSSocket;
  serverSocket: tls.TLSSocket;
  close: () => Promise<void>;
}> {
  const server = tls.createServer({
    key: readFileSync(join(CERTS, 'ls-1.key')),
    cert: readFileSync(join(CERTS, 'ls-1.crt')),
    ALPNProtocols: ['h2'],
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'secureConnection') as Promise<[tls.TLSSocket]>;
  const clientSocket = await tlsConnect((server.address() as AddressInfo).port, undefined);
  const [serverSocket] = await accepted;
  return {
    clientSocket,
    serverSocket,
    async close() {
      serverSocket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Test-side Huffman encoder (ours never encodes), from the same canonical code as the decoder. */
export function huffmanEncode(text: string): Buffer {
  const codes = huffmanCodes();
  let bits = '';
  for (const b of Buffer.from(text, 'latin1'))
    bits += codes[b]!.code.toString(2).padStart(codes[b]!.bits, '0');
  bits += '1'.repeat((8 - (bits.length % 8)) % 8);
  return Buffer.from((bits.match(/.{8}/g) ?? []).map((byte) => parseInt(byte, 2)));
}

/** A "literal with incremental indexing, new name" field with both strings Huffman-coded. */
export function indexedLiteral(name: string, value: string): Buffer {
  const n = huffmanEncode(name);
  const v = huffmanEncode(value);
  if (n.length > 126 || v.length > 126) throw new Error('test helper handles short strings only');
  return Buffer.concat([Buffer.from([0x40, 0x80 | n.length]), n, Buffer.from([0x80 | v.length]), v]);
}

/** A raw TLS connection (with hd-1's client certificate) to an HTTP/2 server; the preface is sent. */
export async function fakeClient(port: number, name = 'hd-1'): Promise<FakePeer> {
  const socket = await tlsConnect(port, name);
  const peer = new FakePeer(socket, false);
  socket.write(CLIENT_PREFACE);
  return peer;
}

/** Awaits a call that must fail, and returns its GrpcError (anything else fails the test). */
export async function expectGrpcError(call: Promise<unknown>): Promise<GrpcError> {
  const err = await call.then(
    () => assert.fail('the call should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof GrpcError, `expected a GrpcError, got ${String(err)}`);
  return err;
}
