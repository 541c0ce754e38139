/**
 * CONTINUATION flood (CVE-2023-45288 class, issue 10 finding 1) against our gRPC server on real TLS: a
 * HEADERS frame without END_HEADERS followed by endless empty CONTINUATION frames must be cut off by a
 * limit after a few frames (GOAWAY ENHANCE_YOUR_CALM, connection closed), while other connections keep
 * being served; legitimate blocks split across CONTINUATION frames still work.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { GrpcServer } from '../../src/grpc/server.js';
import { frame } from '../../src/grpc/framing.js';
import { ErrorCode, Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { frameBytes } from '../../src/grpc/h2/frames.js';
import { fakeClient, type FakePeer } from '../helpers/h2-fake-server.js';
import { grpcRequest, handshake, startScriptedServer } from '../helpers/h2-grpc-server.js';
import { withDeadline } from '../helpers/wait.js';

const { DATA, HEADERS, CONTINUATION, GOAWAY } = FrameType;
const { END_STREAM, END_HEADERS } = Flag;

/** Bounded, but far beyond any legitimate header block: 1.8 MB of frame headers. */
const FLOOD_FRAMES = 200_000;

let server: GrpcServer;
let port: number;

before(async () => {
  ({ server, port } = await startScriptedServer());
});

after(async () => {
  await server.close();
});

/** A unary call on a fresh connection, answered: the server is still serving. */
async function callSucceeds(what: string): Promise<void> {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    peer.send(HEADERS, END_HEADERS, 1, grpcRequest());
    peer.send(DATA, END_STREAM, 1, frame(Buffer.from(what)));
    assert.deepEqual((await peer.response(1)).body, frame(Buffer.from(`re:${what}`)));
  } finally {
    peer.socket.destroy();
  }
}

/** Sends a header block split into `parts` frames: one HEADERS, the rest CONTINUATION. */
function sendSplit(peer: FakePeer, streamId: number, block: Buffer, parts: number): void {
  const size = Math.ceil(block.length / parts);
  for (let i = 0; i < parts; i++) {
    const last = i === parts - 1;
    const type = i === 0 ? HEADERS : CONTINUATION;
    peer.send(
      type,
      last ? END_HEADERS : 0,
      streamId,
      block.subarray(i * size, last ? undefined : (i + 1) * size),
    );
  }
}

test('CONTINUATION flood: empty CONTINUATION frames at full speed end the connection with GOAWAY ENHANCE_YOUR_CALM', async (t) => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    const emptyContinuation = frameBytes(CONTINUATION, 0, 1);
    const flood = Buffer.concat([
      frameBytes(HEADERS, 0, 1, grpcRequest()),
      ...Array.from({ length: FLOOD_FRAMES }, () => emptyContinuation),
    ]);
    const rssBefore = process.memoryUsage.rss();
    const started = performance.now();
    peer.socket.write(flood);
    const goaway = await peer.next((f) => f.type === GOAWAY, 5000);
    const cutAfterMs = performance.now() - started;
    assert.equal(goaway.payload.readUInt32BE(4), ErrorCode.ENHANCE_YOUR_CALM);
    const debug = goaway.payload.subarray(8).toString();
    assert.match(debug, /CONTINUATION frames/);
    // Server and attacker share this process: the bound covers both (the old code grew ~225 bytes a frame).
    const grownMiB = (process.memoryUsage.rss() - rssBefore) / 2 ** 20;
    t.diagnostic(`GOAWAY after ${cutAfterMs.toFixed(1)} ms, RSS +${grownMiB.toFixed(1)} MiB: ${debug}`);
    assert.ok(grownMiB < 16, `RSS grew by ${grownMiB.toFixed(1)} MiB during the flood`);
    // The server closes its side: the attacker's connection ends.
    await withDeadline(
      new Promise<void>((resolve) => (peer.closed ? resolve() : peer.socket.once('close', () => resolve()))),
      { timeoutMs: 5000, what: 'the server to close the flooding connection' },
    );
  } finally {
    peer.socket.destroy();
  }
  await callSucceeds('after the flood');
});

test('a legitimate header block split across HEADERS and CONTINUATION frames is served', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    // A 48 KB header value at the 16 KiB frame size: HEADERS and 3 CONTINUATION frames.
    const big = grpcRequest('/EPS/Call', [['x-big', 'v'.repeat(48_000)]]);
    sendSplit(peer, 1, big, Math.ceil(big.length / 16_384));
    peer.send(DATA, END_STREAM, 1, frame(Buffer.from('big headers')));
    assert.deepEqual((await peer.response(1)).body, frame(Buffer.from('re:big headers')));
    // A small block cut into tiny pieces: HEADERS and 7 CONTINUATION frames.
    sendSplit(peer, 3, grpcRequest(), 8);
    peer.send(DATA, END_STREAM, 3, frame(Buffer.from('tiny frames')));
    assert.deepEqual((await peer.response(3)).body, frame(Buffer.from('re:tiny frames')));
  } finally {
    peer.socket.destroy();
  }
});
