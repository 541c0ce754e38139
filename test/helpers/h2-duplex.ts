/**
 * Deterministic HTTP/2 protocol tests: our connection (client or server role) over an in-memory stream
 * pair instead of TLS on a socket, on a ManualClock instead of real time. The other end is a scripted
 * FakePeer (h2-fake-server.ts): the test sends raw frames, reads the frames our side answers with, and
 * moves the clock. Nothing waits on real time except the safety deadline of each read.
 *
 * The script API: `peer.send/settings/u32/answer` write frames, `peer.next/request/response` read them,
 * `goaway`, `reset` and `framesBeforePong` below read what a test usually asserts, `clock.advance` fires
 * timers in order.
 */
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { GrpcSession, type GrpcSessionOptions } from '../../src/grpc/client.js';
import { H2Connection, type H2ConnectionOptions } from '../../src/grpc/h2/connection.js';
import { Flag, FrameType, type Setting } from '../../src/grpc/h2/codes.js';
import { CLIENT_PREFACE, type Frame } from '../../src/grpc/h2/frames.js';
import { FakePeer } from './h2-fake-server.js';
import { ManualClock } from './manual-clock.js';

/**
 * One end of an in-memory byte stream. What one end writes the other reads, in order; ending or
 * destroying one end delivers what was written, then EOF, to the other (as a closed TCP connection does,
 * minus the kernel buffers: writes never block).
 */
class MemoryEnd extends Duplex implements HeldOutput {
  other?: MemoryEnd;
  private eof = false;
  private holding = false;
  /** Writes not yet taken while holding: delivered (and completed) in order by release(). */
  private readonly held: (() => void)[] = [];

  constructor() {
    // Like a net.Socket: once the other side ended, this side ends too, and the stream closes.
    super({ allowHalfOpen: false });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    const take = (): void => {
      this.other?.deliver(chunk);
      callback();
    };
    if (this.holding) this.held.push(take);
    else take();
  }

  hold(): void {
    this.holding = true;
  }

  get waiting(): number {
    return this.held.length;
  }

  release(writes = 1): number {
    let n = 0;
    for (; n < writes && this.held.length > 0; n++) this.held.shift()!();
    return n;
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.other?.deliver(null);
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.other?.deliver(null);
    callback(err);
  }

  private deliver(chunk: Buffer | null): void {
    if (this.eof || this.destroyed) return;
    if (chunk === null) this.eof = true;
    this.push(chunk);
  }
}

/**
 * A peer that stops reading, for one end's output: after hold(), its writes are neither delivered nor
 * completed (the socket backs up as a TCP connection to a peer that does not read does), until
 * release() lets `writes` of them through, oldest first; it returns how many it released.
 */
export interface HeldOutput {
  hold(): void;
  release(writes?: number): number;
  /** Writes held now. */
  readonly waiting: number;
}

/** Two connected in-memory stream ends. */
export function memoryPair(): [Duplex, Duplex] {
  return connectedEnds();
}

function connectedEnds(): [MemoryEnd, MemoryEnd] {
  const a = new MemoryEnd();
  const b = new MemoryEnd();
  a.other = b;
  b.other = a;
  return [a, b];
}

export interface DuplexClient {
  /** Our gRPC client session (client-role H2Connection) under test. */
  session: GrpcSession;
  /** The session's end of the byte stream (a test may fail it as a reset TCP socket would). */
  socket: Duplex;
  /** The scripted server: it has read nothing and sent nothing yet. */
  peer: FakePeer;
  clock: ManualClock;
  close: () => void;
}

/** A GrpcSession on a manual clock, talking to a scripted server through memory. */
export function duplexClient(options: Omit<GrpcSessionOptions, 'clock'> = {}): DuplexClient {
  const clock = new ManualClock();
  const [ours, theirs] = memoryPair();
  const session = new GrpcSession('ls-1', ours, { ...options, clock });
  const peer = new FakePeer(theirs);
  return { session, socket: ours, peer, clock, close: () => session.destroy() };
}

export interface DuplexServer {
  /** A server-role H2Connection under test. */
  conn: H2Connection;
  /** The server's output, which a test can stop and resume as a peer that stops reading would. */
  output: HeldOutput;
  /** The scripted client: the preface is sent, nothing else. */
  peer: FakePeer;
  clock: ManualClock;
  close: () => void;
}

/**
 * A server-role H2Connection on a manual clock with a scripted client. `setup` runs before any frame
 * arrives, e.g. to supervise the connection (server-lifecycle.ts) on the same clock.
 */
export function duplexServer(
  options: Omit<H2ConnectionOptions, 'clock'> = {},
  setup?: (conn: H2Connection, clock: ManualClock) => void,
): DuplexServer {
  const clock = new ManualClock();
  const [ours, theirs] = connectedEnds();
  const conn = new H2Connection(ours, 'server', { ...options, clock });
  setup?.(conn, clock);
  const peer = new FakePeer(theirs, false);
  theirs.write(CLIENT_PREFACE);
  return { conn, output: ours, peer, clock, close: () => conn.destroy() };
}

/** The scripted client's half of the SETTINGS exchange (its SETTINGS, the server's, the ACK). */
export async function clientHandshake(peer: FakePeer, settings: [Setting, number][] = []): Promise<void> {
  peer.settings(settings);
  await peer.next((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0);
  peer.send(FrameType.SETTINGS, Flag.ACK, 0);
}

/** The next GOAWAY from our side, decoded. */
export async function goaway(peer: FakePeer): Promise<{ lastStreamId: number; code: number; debug: string }> {
  const f = await peer.next((f) => f.type === FrameType.GOAWAY);
  return {
    lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff,
    code: f.payload.readUInt32BE(4),
    debug: f.payload.subarray(8).toString(),
  };
}

/** The error code of the next RST_STREAM from our side on `streamId`. */
export async function reset(peer: FakePeer, streamId: number): Promise<number> {
  const f = await peer.next((f) => f.type === FrameType.RST_STREAM && f.streamId === streamId);
  return f.payload.readUInt32BE(0);
}

/**
 * Sends a PING and returns every frame our side sent before answering it: frames leave in order, so
 * this is "what happened so far" without waiting for anything to (not) happen. Rejects if the
 * connection closes first.
 */
export async function framesBeforePong(peer: FakePeer, tag: string): Promise<Frame[]> {
  const payload = Buffer.from(tag.padEnd(8, '.').slice(0, 8));
  const seen: Frame[] = [];
  peer.send(FrameType.PING, 0, 0, payload);
  await peer.next((f) => {
    const pong = f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0 && f.payload.equals(payload);
    if (!pong) seen.push(f);
    return pong;
  });
  return seen;
}

/** Asserts that our side sent none of `types` so far (checked with a PING round trip). */
export async function assertNothingSent(peer: FakePeer, types: number[], tag: string): Promise<void> {
  const sent = (await framesBeforePong(peer, tag)).filter((f) => types.includes(f.type));
  assert.deepEqual(
    sent.map((f) => f.type),
    [],
    `unexpected frames before the answer to ${tag}`,
  );
}
