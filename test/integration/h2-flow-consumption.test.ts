/**
 * Receive credit on consumption (issue 10 finding 5), server side, on real TLS: a streaming handler that
 * does not read leaves its client without stream window once the window is full (no WINDOW_UPDATE, the
 * client stalls), the server's memory (measured in its own process) stays within the window, and reading
 * or resuming restarts the flow.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BidiServerStream, GrpcServer } from '../../src/grpc/server.js';
import { Flag, FrameType } from '../../src/grpc/h2/codes.js';
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
    const bound = STREAM_WINDOW / MiB + 8;
    assert.ok(heapMiB < bound, `heap and buffers grew by ${heapMiB.toFixed(1)} MiB (bound ${bound} MiB)`);
    assert.ok(rssMiB < bound, `RSS grew by ${rssMiB.toFixed(1)} MiB (bound ${bound} MiB)`);

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
