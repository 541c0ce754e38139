/**
 * Our gRPC server's connection lifetime on a manual clock (real TLS sockets, scripted client): the idle
 * close, renewal after the maximum age with its grace, and the request-body timeout. "Nothing happened
 * yet" is shown without waiting: the client pings, and the server's answer would come after anything it
 * had sent before.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { frame } from '../../src/grpc/framing.js';
import { ErrorCode, FrameType, Flag } from '../../src/grpc/h2/codes.js';
import type { ServerKeepalive } from '../../src/grpc/keepalive.js';
import { ls1Server } from '../helpers/grpc-local.js';
import { fakeClient, type FakePeer } from '../helpers/h2-fake-server.js';
import { grpcRequest } from '../helpers/h2-grpc-server.js';
import { ManualClock } from '../helpers/manual-clock.js';

const IDLE_MS = 60_000;
const AGE_MS = 100_000;
const GRACE_MS = 30_000;
const BODY_MS = 20_000;

let clock: ManualClock;
let port: number;

/** A server for one test on a fresh manual clock (its connections are created at the clock's start). */
async function serve(t: TestContext, keepalive: Partial<ServerKeepalive>): Promise<void> {
  clock = new ManualClock();
  const server = ls1Server({
    handlers: { unary: { '/EPS/Call': async (p) => p }, bidi: { '/EPS/Stream': () => undefined } },
    // The ping after silence runs on the same clock: kept out of the way of these long advances.
    keepalive: { maxAgeMs: 1000 * AGE_MS, pingAfterSilenceMs: 1000 * AGE_MS, ...keepalive },
    clock,
  });
  port = (await server.listen('127.0.0.1:0')).port;
  t.after(() => server.close());
}

/** A connected, handshaken client; the server arms its connection's timers before it sends SETTINGS. */
async function connect(): Promise<FakePeer> {
  const peer = await fakeClient(port);
  peer.settings();
  await peer.next((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0);
  peer.send(FrameType.SETTINGS, Flag.ACK, 0);
  return peer;
}

/**
 * Pings the server and returns the first GOAWAY or HEADERS it sends before the answer (undefined: none).
 * The server tolerates three pings in a row within 15 s (real time) unless it sends headers or data between.
 */
async function probe(peer: FakePeer, label: string): Promise<'goaway' | 'headers' | undefined> {
  const payload = Buffer.from(label.padEnd(8, '.').slice(0, 8));
  peer.send(FrameType.PING, 0, 0, payload);
  const f = await peer.next(
    (f) =>
      f.type === FrameType.GOAWAY ||
      f.type === FrameType.HEADERS ||
      (f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0 && f.payload.equals(payload)),
  );
  if (f.type === FrameType.GOAWAY) return 'goaway';
  if (f.type === FrameType.HEADERS) return 'headers';
  return undefined;
}

test('a connection without calls is closed with GOAWAY after maxIdleMs, not before', async (t) => {
  await serve(t, { maxIdleMs: IDLE_MS });
  const peer = await connect();
  try {
    await clock.advance(IDLE_MS - 1);
    assert.equal(await probe(peer, 'early'), undefined, 'pings do not count as calls, but nothing yet');
    await clock.advance(1);
    const goaway = await peer.next((f) => f.type === FrameType.GOAWAY);
    assert.equal(goaway.payload.readUInt32BE(4), ErrorCode.NO_ERROR);
  } finally {
    peer.socket.destroy();
  }
});

test('an open call keeps the connection; the idle clock starts when the last call ends', async (t) => {
  await serve(t, { maxIdleMs: IDLE_MS });
  const peer = await connect();
  try {
    peer.send(FrameType.HEADERS, Flag.END_HEADERS, 1, grpcRequest('/EPS/Stream'));
    await peer.next((f) => f.type === FrameType.HEADERS && f.streamId === 1);
    await clock.advance(2 * IDLE_MS);
    assert.equal(await probe(peer, 'busy'), undefined, 'no GOAWAY while a call is open');
    peer.u32(FrameType.RST_STREAM, 1, ErrorCode.CANCEL);
    await probe(peer, 'reset');
    await clock.advance(IDLE_MS - 1);
    assert.equal(await probe(peer, 'idle'), undefined);
    await clock.advance(1);
    const goaway = await peer.next((f) => f.type === FrameType.GOAWAY);
    assert.equal(goaway.payload.readUInt32BE(4), ErrorCode.NO_ERROR);
  } finally {
    peer.socket.destroy();
  }
});

test('after the maximum age (±10 %) a busy connection gets GOAWAY, and is closed after the grace', async (t) => {
  await serve(t, { maxAgeMs: AGE_MS, maxAgeGraceMs: GRACE_MS });
  const peer = await connect();
  try {
    peer.send(FrameType.HEADERS, Flag.END_HEADERS, 1, grpcRequest('/EPS/Stream'));
    await peer.next((f) => f.type === FrameType.HEADERS && f.streamId === 1);
    await clock.advance(0.9 * AGE_MS - 1);
    assert.equal(await probe(peer, 'young'), undefined, 'not before 90 % of the age');
    // The renewal falls due somewhere in [0.9, 1.1] x AGE_MS; by 1.1 x AGE_MS it has happened.
    await clock.advance(0.2 * AGE_MS + 1);
    const goaway = await peer.next((f) => f.type === FrameType.GOAWAY);
    assert.equal(goaway.payload.readUInt32BE(4), ErrorCode.NO_ERROR);
    assert.equal(goaway.payload.readUInt32BE(0), 1, 'the open call may still finish');
    // The grace started at the renewal, at least 0.2 x AGE_MS ago at most: still open before that.
    await clock.advance(GRACE_MS - 0.2 * AGE_MS - 2);
    assert.equal(await probe(peer, 'grace'), undefined, 'still open during the grace');
    await clock.advance(0.2 * AGE_MS + 2);
    await assert.rejects(
      peer.next(() => false),
      /connection closed/,
    );
  } finally {
    peer.socket.destroy();
  }
});

test('a unary request whose message does not complete gets DEADLINE_EXCEEDED after the body timeout', async (t) => {
  await serve(t, { requestBodyTimeoutMs: BODY_MS });
  const peer = await connect();
  try {
    peer.send(FrameType.HEADERS, Flag.END_HEADERS, 1, grpcRequest('/EPS/Call'));
    peer.send(FrameType.DATA, 0, 1, frame(Buffer.from('never finished')).subarray(0, 8));
    await probe(peer, 'sent');
    await clock.advance(BODY_MS - 1);
    assert.equal(await probe(peer, 'waiting'), undefined, 'no answer before the timeout');
    await clock.advance(1);
    const stalled = await peer.response(1);
    assert.equal(stalled.headers['grpc-status'], '4');
    assert.match(decodeURIComponent(stalled.headers['grpc-message'] ?? ''), /not complete in time/);
    // A complete request on the same connection is answered as usual, and its timer is cleared.
    peer.send(FrameType.HEADERS, Flag.END_HEADERS, 3, grpcRequest('/EPS/Call'));
    peer.send(FrameType.DATA, Flag.END_STREAM, 3, frame(Buffer.from('complete')));
    assert.deepEqual((await peer.response(3)).body, frame(Buffer.from('complete')));
  } finally {
    peer.socket.destroy();
  }
});

test('pings: calls answered in between reset the count; a fourth quick ping without one is refused', async (t) => {
  await serve(t, {});
  // Calls answered in between reset the count (as grpc-go's BDP pings need) ...
  const polite = await connect();
  try {
    for (let i = 0; i < 5; i++) {
      polite.send(FrameType.PING, 0, 0, Buffer.alloc(8, i));
      polite.send(FrameType.HEADERS, Flag.END_HEADERS, 2 * i + 1, grpcRequest('/EPS/Call'));
      polite.send(FrameType.DATA, Flag.END_STREAM, 2 * i + 1, frame(Buffer.from(`p${i}`)));
      assert.deepEqual((await polite.response(2 * i + 1)).body, frame(Buffer.from(`p${i}`)));
    }
  } finally {
    polite.socket.destroy();
  }
  // ... but a fourth ping within 15 s (minClientPingIntervalMs) without any call is one too many.
  const eager = await connect();
  try {
    for (let i = 0; i < 4; i++) eager.send(FrameType.PING, 0, 0, Buffer.alloc(8, i));
    const calm = await eager.next((f) => f.type === FrameType.GOAWAY);
    assert.equal(calm.payload.readUInt32BE(4), ErrorCode.ENHANCE_YOUR_CALM);
    assert.equal(calm.payload.subarray(8).toString(), 'too_many_pings');
  } finally {
    eager.socket.destroy();
  }
});
