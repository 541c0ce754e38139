/**
 * Receive credit on consumption (issue 10 finding 5), server side, on real TLS: a streaming handler that
 * does not read leaves its client without stream window once the window is full (no WINDOW_UPDATE, the
 * client stalls), the server's memory (measured in its own process) stays within the window, and reading
 * or resuming restarts the flow.
 */
import vm from 'node:vm';
import v8 from 'node:v8';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BidiServerStream, GrpcServer } from '../../src/grpc/server.js';
import { Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { frameBytes } from '../../src/grpc/h2/frames.js';
import { STREAM_WINDOW } from '../../src/grpc/h2/limits.js';
import { fakeClient } from '../helpers/h2-fake-server.js';
import { grpcRequest, handshake } from '../helpers/h2-grpc-server.js';
import { ls1Server } from '../helpers/grpc-local.js';
import { WindowSender } from '../helpers/h2-window-sender.js';
import { HOLD_MESSAGE, HOLD_MESSAGES, HOLD_PUSH, HoldServer, warmUp } from '../helpers/hold-server.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 2 ** 20;
const MESSAGE = HOLD_MESSAGE;
const MESSAGES = HOLD_MESSAGES;
const PUSH = HOLD_PUSH;
/** Messages whose consumption adds up to half the window: one WINDOW_UPDATE (credit is batched). */
const BATCH = Math.ceil(STREAM_WINDOW / 2 / MESSAGE.length);

const held: BidiServerStream[] = [];
let server: GrpcServer;
let port: number;

before(async () => {
  server = ls1Server({
    // The scripted client asks with PINGs whether credit is still coming.
    keepalive: { minClientPingIntervalMs: 0 },
    handlers: { unary: {}, bidi: { '/EPS/Hold': (stream) => void held.push(stream) } },
  });
  port = (await server.listen('127.0.0.1:0')).port;
});

after(async () => {
  await server.close();
});

test('a streaming handler that does not read stalls its client at the stream window; memory stays flat', async (t) => {
  // The server alone in a child process, so that its memory is what is measured.
  const child = await HoldServer.start();
  await warmUp(child);
  const peer = await fakeClient(child.port);
  try {
    await handshake(peer);
    const before = await child.ask('memory');
    peer.send(FrameType.HEADERS, Flag.END_HEADERS, 1, grpcRequest('/EPS/Hold'));
    const sender = new WindowSender(peer, 1, STREAM_WINDOW);
    const stalled = await sender.push(PUSH);
    const after = await child.ask('memory');
    const rssMiB = (after.rss! - before.rss!) / MiB;
    const heapMiB = (after.heapAndBuffers! - before.heapAndBuffers!) / MiB;
    t.diagnostic(
      `client stalled after ${stalled.sent} of ${PUSH.length} bytes; server RSS +${rssMiB.toFixed(1)} MiB, heap+buffers +${heapMiB.toFixed(1)} MiB`,
    );
    assert.equal((await child.ask('budget')).held, 2, 'the handler runs');
    assert.equal(stalled.sent, STREAM_WINDOW, 'exactly the stream window, then no WINDOW_UPDATE');
    // The old code granted credit on arrival: the client sent all 48 MiB and the server kept it.
    // RSS is steady after the warm-up; heap and Buffers also count socket buffers still in flight.
    const bound = STREAM_WINDOW / MiB + 8;
    assert.ok(rssMiB < bound, `RSS grew by ${rssMiB.toFixed(1)} MiB (bound ${bound} MiB)`);
    assert.ok(
      heapMiB < bound + 8,
      `heap and buffers grew by ${heapMiB.toFixed(1)} MiB (bound ${bound + 8} MiB)`,
    );

    // The handler starts reading: credit comes back as it consumes, and everything arrives.
    await child.ask('read');
    const rest = await sender.push(PUSH.subarray(stalled.sent));
    assert.equal(rest.sent, PUSH.length, 'with a reading handler the client is never stalled for good');
    await waitFor(async () => (await child.ask('count')).received === 2 * MESSAGES, {
      timeoutMs: 20_000,
      what: 'every message to be read',
    });
  } finally {
    peer.socket.destroy();
    await child.stop();
  }
});

test('a paused handler stalls its client the same way and resumes it', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    peer.send(FrameType.HEADERS, Flag.END_HEADERS, 1, grpcRequest('/EPS/Hold'));
    const sender = new WindowSender(peer, 1, STREAM_WINDOW);
    await waitFor(() => held.length === 1, { timeoutMs: 5000, what: 'the handler to run' });
    const stream = held[0]!;
    let received = 0;
    stream.onMessage(() => {
      // Takes just enough messages for one WINDOW_UPDATE (half the window), then stops reading.
      if (++received === BATCH) stream.pause();
    });
    const stalled = await sender.push(PUSH);
    assert.equal(received, BATCH);
    assert.equal(stalled.sent, STREAM_WINDOW + BATCH * MESSAGE.length, 'the window plus one batch of credit');
    stream.resume();
    assert.equal((await sender.push(PUSH.subarray(stalled.sent))).sent, PUSH.length);
    await waitFor(() => received === MESSAGES, { timeoutMs: 10_000, what: 'every message to be read' });
  } finally {
    peer.socket.destroy();
  }
});

test('one-byte DATA frames cost their bytes, not a Buffer object each (data dribble)', async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    peer.send(FrameType.HEADERS, Flag.END_HEADERS, 1, grpcRequest('/EPS/Hold'));
    // A message of almost 4 MiB announced, then its body one byte per DATA frame, all unread.
    peer.send(FrameType.DATA, 0, 1, Buffer.from([0, 0, 0x3f, 0xff, 0]));
    gc();
    const before = process.memoryUsage().heapUsed;
    const frames = 200_000;
    const batch = Buffer.concat(
      Array.from({ length: 10_000 }, () => frameBytes(FrameType.DATA, 0, 1, Buffer.from([7]))),
    );
    for (let i = 0; i < frames / 10_000; i++) peer.socket.write(batch);
    const ping = Buffer.alloc(8, 1);
    peer.send(FrameType.PING, 0, 0, ping);
    await peer.next((f) => f.type === FrameType.PING && f.payload.equals(ping), 30_000);
    gc();
    const grownMiB = (process.memoryUsage().heapUsed - before) / MiB;
    t.diagnostic(`${frames} one-byte frames held: heap +${grownMiB.toFixed(1)} MiB`);
    // The old code kept every frame's payload as its own Buffer: ~100 bytes of heap per byte (+19 MiB).
    assert.ok(grownMiB < 4, `heap grew by ${grownMiB.toFixed(1)} MiB for ${frames} bytes`);
  } finally {
    peer.socket.destroy();
  }
});
