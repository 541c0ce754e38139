/**
 * The write-stall deadline (CVE-2019-9517, internal data buffering; src/grpc/h2/write-stall.ts): output
 * a peer does not take ends the connection after WRITE_STALL_MS without a completed write; a slow peer
 * that keeps reading, and a stream held back only by its own window, are not cut off. In memory, on a
 * manual clock: the server's output is held as a peer that stops reading would hold it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, Flag, FrameType, Setting } from '../../src/grpc/h2/codes.js';
import type { StreamError } from '../../src/grpc/h2/errors.js';
import { MAX_WINDOW } from '../../src/grpc/h2/frames.js';
import { CONNECTION_WINDOW, WRITE_STALL_MS } from '../../src/grpc/h2/limits.js';
import type { H2Stream } from '../../src/grpc/h2/stream.js';
import {
  assertNothingSent,
  clientHandshake,
  duplexServer,
  goaway,
  type DuplexServer,
} from '../helpers/h2-duplex.js';
import { ANSWER_HEADERS } from '../helpers/h2-fake-server.js';
import { grpcRequest } from '../helpers/h2-grpc-server.js';
import { waitFor } from '../helpers/wait.js';

const { DATA, GOAWAY, HEADERS, WINDOW_UPDATE } = FrameType;
const CHUNK = 64 * 1024;

interface Answering extends DuplexServer {
  stream: H2Stream;
  /** How the stream ended: undefined while open, null when it ended normally. */
  ended: () => StreamError | null | undefined;
}

/** A server connection with one request on stream 1 whose answer the test writes. */
async function answering(
  windows: 'wide' | 'default' | 'connection only',
  maxOutputBytes?: number,
): Promise<Answering> {
  let stream: H2Stream | undefined;
  let end: StreamError | null | undefined;
  const server = duplexServer({
    ...(maxOutputBytes === undefined ? {} : { maxOutputBytes }),
    onStream: (s) => {
      stream = s;
      s.events = { onHeaders: () => undefined, onData: () => undefined, onClose: (e) => (end = e ?? null) };
    },
  });
  const { peer } = server;
  await clientHandshake(peer, windows === 'wide' ? [[Setting.INITIAL_WINDOW_SIZE, MAX_WINDOW]] : []);
  if (windows !== 'default') peer.u32(WINDOW_UPDATE, 0, MAX_WINDOW - CONNECTION_WINDOW);
  peer.send(HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, grpcRequest('/EPS/Big'));
  await waitFor(() => stream !== undefined, { timeoutMs: 5000, what: 'the request to arrive' });
  server.conn.sendHeaders(stream!, ANSWER_HEADERS, false);
  return { ...server, stream: stream!, ended: () => end };
}

test('write stall: a peer that reads nothing of a large answer is cut off at WRITE_STALL_MS, not 1 ms before', async () => {
  const { conn, output, peer, clock, stream, ended, close } = await answering('wide');
  try {
    output.hold();
    conn.write(stream, Buffer.alloc(16 * CHUNK), false);
    await clock.advance(WRITE_STALL_MS - 1);
    assert.equal(conn.closed, false, 'still open 1 ms before the deadline');
    assert.equal(ended(), undefined);
    await clock.advance(1);
    assert.equal(conn.closed, true, 'closed at the deadline');
    assert.match(ended()?.message ?? '', /write stalled: the peer read none of our output for 30 s/);
    await waitFor(() => peer.closed, { timeoutMs: 5000, what: 'the socket to be destroyed' });
  } finally {
    close();
  }
});

test('write stall: a peer that never reopens the connection window gets GOAWAY ENHANCE_YOUR_CALM', async () => {
  const { conn, peer, clock, stream, ended, close } = await answering('default');
  try {
    conn.write(stream, Buffer.alloc(16 * CHUNK), false);
    await peer.next((f) => f.type === DATA);
    await clock.advance(WRITE_STALL_MS - 1);
    await assertNothingSent(peer, [GOAWAY], 'early');
    await clock.advance(1);
    const away = await goaway(peer);
    assert.equal(away.code, ErrorCode.ENHANCE_YOUR_CALM);
    assert.match(away.debug, /read none of our output/);
    assert.match(ended()?.message ?? '', /write stalled/);
  } finally {
    close();
  }
});

test('write stall: a stream held back only by its own window is flow control, not a stall', async () => {
  const { conn, peer, clock, stream, ended, close } = await answering('connection only');
  try {
    conn.write(stream, Buffer.alloc(16 * CHUNK), false);
    await peer.next((f) => f.type === DATA);
    await clock.advance(10 * WRITE_STALL_MS);
    await assertNothingSent(peer, [GOAWAY], 'waiting on the stream window');
    assert.equal(ended(), undefined, 'the stream is still open');
  } finally {
    close();
  }
});

test('write stall: a slow peer that keeps reading survives many deadlines; when it stops, it is cut off', async () => {
  const { conn, output, clock, stream, ended, close } = await answering('wide');
  try {
    output.hold();
    const chunks = 32;
    // Each chunk once the previous one is handed to the socket: one socket write per chunk.
    const handedOver = (): Promise<void> =>
      new Promise((resolve, reject) =>
        conn.write(stream, Buffer.alloc(CHUNK), false, (err) => (err ? reject(err) : resolve())),
      );
    const writing = (async () => {
      for (let i = 0; i < chunks; i++) await handedOver();
    })();
    writing.catch(() => undefined);
    const nextWriteHeld = (): Promise<void> =>
      waitFor(() => output.waiting > 0, { timeoutMs: 5000, what: 'the next write of the answer' });
    // One write taken every WRITE_STALL_MS - 1: 8 deadlines' worth of time, each restarted by progress.
    for (let i = 0; i < 8; i++) {
      await nextWriteHeld();
      await clock.advance(WRITE_STALL_MS - 1);
      assert.equal(output.release(1), 1, `a write was waiting at step ${i}`);
    }
    await nextWriteHeld();
    await clock.advance(WRITE_STALL_MS - 1);
    assert.equal(conn.closed, false, 'reading slowly is not a stall');
    assert.equal(ended(), undefined);
    await clock.advance(1);
    assert.equal(conn.closed, true, 'no write taken for WRITE_STALL_MS: cut off');
    assert.match(ended()?.message ?? '', /write stalled/);
  } finally {
    close();
  }
});

test('output bound: a write beyond the bytes the peer left unread resets its stream, clearly', async () => {
  const limit = 16 * CHUNK;
  const { conn, output, stream, ended, close } = await answering('wide', limit);
  try {
    output.hold();
    assert.equal(conn.outputRefusal(limit - 2 * CHUNK), undefined, 'room while nothing waits');
    conn.write(stream, Buffer.alloc(15 * CHUNK), false);
    assert.ok(conn.bufferedOutput >= 15 * CHUNK, `buffered ${conn.bufferedOutput}`);
    let failure: Error | undefined;
    const more = conn.write(stream, Buffer.alloc(2 * CHUNK), false, (e) => (failure = e));
    assert.equal(more, false);
    assert.match(
      failure?.message ?? '',
      /of output already wait for the peer to read them; 0\.1 MiB more would exceed the connection's 1\.0 MiB/,
    );
    assert.equal(ended()?.code, ErrorCode.ENHANCE_YOUR_CALM, 'the stream was reset');
    assert.equal(conn.closed, false, 'the connection goes on');
  } finally {
    close();
  }
});
