/**
 * Client role, stream errors and stream states (RFC 9113 §5.1, §5.3, §5.5, §6.3, §6.8, §6.9, §7): what a
 * server can get wrong about one stream ends that stream only (RST_STREAM with the RFC's code, the call
 * fails, the next call is answered); frames the RFC says to ignore are ignored. In-memory harness.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { GrpcError, Status } from '../../src/grpc/status.js';
import { frame } from '../../src/grpc/framing.js';
import { ANSWER_HEADERS, ANSWER_TRAILERS, indexedLiteral } from '../helpers/h2-fake-server.js';
import { STREAM_WINDOW } from '../../src/grpc/h2/limits.js';
import { assertNothingSent, duplexClient, framesBeforePong, goaway, reset } from '../helpers/h2-duplex.js';
import { encodeHeaders } from '../../src/grpc/h2/hpack.js';
import {
  call,
  expectAnswered,
  expectStreamError,
  openCall,
  type OpenCall,
} from '../helpers/h2-client-role.js';

const { DATA, HEADERS, PRIORITY, RST_STREAM, WINDOW_UPDATE, GOAWAY } = FrameType;
const { END_STREAM, END_HEADERS } = Flag;

const streamErrors: [section: string, what: string, misbehave: (h: OpenCall) => void, code: number][] = [
  [
    '6.9',
    'WINDOW_UPDATE of 0 for a stream',
    (h) => h.peer.u32(WINDOW_UPDATE, h.id, 0),
    ErrorCode.PROTOCOL_ERROR,
  ],
  [
    '6.9.1',
    'a stream window above 2^31-1',
    (h) => {
      h.peer.u32(WINDOW_UPDATE, h.id, 0x7fffffff);
      h.peer.u32(WINDOW_UPDATE, h.id, 0x7fffffff);
    },
    ErrorCode.FLOW_CONTROL_ERROR,
  ],
  [
    '6.3',
    'PRIORITY of 4 bytes on an open stream',
    (h) => h.peer.send(PRIORITY, 0, h.id, Buffer.alloc(4)),
    ErrorCode.FRAME_SIZE_ERROR,
  ],
  [
    '5.3.1',
    'PRIORITY making a stream depend on itself',
    (h) => {
      const p = Buffer.alloc(5);
      p.writeUInt32BE(h.id, 0);
      h.peer.send(PRIORITY, 0, h.id, p);
    },
    ErrorCode.PROTOCOL_ERROR,
  ],
  [
    '5.3.1',
    'HEADERS making a stream depend on itself',
    (h) => {
      const p = Buffer.alloc(5);
      p.writeUInt32BE(h.id, 0);
      h.peer.send(HEADERS, END_HEADERS | Flag.PRIORITY, h.id, Buffer.concat([p, Buffer.from([0x88])]));
    },
    ErrorCode.PROTOCOL_ERROR,
  ],
];

for (const [section, what, misbehave, code] of streamErrors) {
  test(`client role §${section}: ${what} → RST_STREAM, call fails, connection stays`, async () => {
    const h = await openCall();
    try {
      misbehave(h);
      await expectStreamError(h, code);
    } finally {
      h.close();
    }
  });
}

test('client role §5.1: after the server reset a stream, its DATA and HEADERS get RST_STREAM STREAM_CLOSED', async () => {
  const h = await openCall();
  try {
    h.peer.u32(RST_STREAM, h.id, ErrorCode.INTERNAL_ERROR);
    assert.ok((await h.outcome) instanceof Error);
    h.peer.send(DATA, 0, h.id, frame(Buffer.from('late')));
    assert.equal(await reset(h.peer, h.id), ErrorCode.STREAM_CLOSED);
    await expectAnswered(h);
  } finally {
    h.close();
  }
});

test('client role §5.1: frames for a stream the client reset are ignored, and their field blocks still decoded', async () => {
  const h = duplexClient();
  try {
    h.peer.settings();
    // The call's deadline passes: the client resets the stream (CANCEL) ...
    const cancelled = call(h, 'x', 1000);
    const req = await h.peer.request();
    await h.clock.advance(1000);
    assert.equal(await reset(h.peer, req.streamId), ErrorCode.CANCEL);
    const cancelledErr = await cancelled;
    assert.ok(cancelledErr instanceof GrpcError);
    assert.equal(cancelledErr.code, Status.DEADLINE_EXCEEDED);
    // ... while the server was answering: its frames still arrive. The answer's headers add an entry to
    // the HPACK table (incremental indexing), which the next answer refers to by index.
    h.peer.send(
      HEADERS,
      END_HEADERS,
      req.streamId,
      Buffer.concat([Buffer.from([0x88]), indexedLiteral('x-served-by', 'ls-1')]),
    );
    h.peer.send(DATA, 0, req.streamId, frame(Buffer.from('too late')));
    h.peer.send(HEADERS, END_HEADERS | END_STREAM, req.streamId, ANSWER_TRAILERS);
    await assertNothingSent(h.peer, [RST_STREAM, GOAWAY], 'ignored');
    const next = call(h, 'next');
    const again = await h.peer.request();
    // 0xbe: index 62, the entry the ignored block added.
    h.peer.send(HEADERS, END_HEADERS, again.streamId, Buffer.from([0x88, 0xbe]));
    h.peer.send(DATA, 0, again.streamId, frame(Buffer.from('fine')));
    h.peer.send(HEADERS, END_HEADERS | END_STREAM, again.streamId, ANSWER_TRAILERS);
    assert.deepEqual(await next, Buffer.from('fine'));
  } finally {
    h.close();
  }
});

test('client role §6.8: GOAWAY fails the calls above its last stream id (retryable), those below finish', async () => {
  const h = await openCall();
  try {
    const second = call(h, 'second');
    const req2 = await h.peer.request();
    const p = Buffer.alloc(8);
    p.writeUInt32BE(h.id, 0);
    p.writeUInt32BE(ErrorCode.NO_ERROR, 4);
    h.peer.send(GOAWAY, 0, 0, p);
    const refused = await second;
    assert.ok(refused instanceof GrpcError);
    assert.equal(refused.code, Status.UNAVAILABLE);
    assert.equal(refused.unprocessed, true, 'not processed by the server: safe to retry');
    h.peer.answer(h.id, Buffer.from('first'));
    assert.deepEqual(await h.outcome, Buffer.from('first'));
    assert.ok(req2.streamId > h.id);
    assert.equal(h.session.closed, true, 'no new calls after GOAWAY');
  } finally {
    h.close();
  }
});

test('client role §7: an unknown error code in RST_STREAM ends that call only, like INTERNAL_ERROR', async () => {
  const h = await openCall();
  try {
    h.peer.u32(RST_STREAM, h.id, 0xdead_beef);
    const err = await h.outcome;
    assert.ok(err instanceof GrpcError);
    assert.equal(err.code, Status.INTERNAL);
    assert.match(err.message, /0xdeadbeef/);
    await expectAnswered(h);
  } finally {
    h.close();
  }
});

test('client role §5.5: frames of unknown types and unknown flags are ignored', async () => {
  const h = await openCall();
  try {
    h.peer.send(0xfa, 0xff, 0, Buffer.from('extension'));
    h.peer.send(0xfb, 0, h.id, Buffer.alloc(20));
    h.peer.send(HEADERS, END_HEADERS | 0x40, h.id, Buffer.from([0x88]));
    h.peer.send(DATA, 0x80, h.id, frame(Buffer.from('answer')));
    h.peer.send(HEADERS, END_HEADERS | END_STREAM, h.id, ANSWER_TRAILERS);
    assert.deepEqual(await h.outcome, Buffer.from('answer'));
    await framesBeforePong(h.peer, 'alive');
  } finally {
    h.close();
  }
});

test('client role §5.1: DATA after the server ended a stream our side had not ended yet → GOAWAY STREAM_CLOSED', async () => {
  const h = duplexClient();
  try {
    h.peer.settings();
    const bidi = h.session.bidi('/EPS/Stream');
    const ended = new Promise<unknown>((resolve) => bidi.onEnd(resolve));
    const opened = await h.peer.next((f) => f.type === HEADERS);
    // A trailers-only answer: the server ends the stream while ours is still open; we stop sending.
    h.peer.send(
      HEADERS,
      END_HEADERS | END_STREAM,
      opened.streamId,
      Buffer.concat([Buffer.from([0x88]), encodeHeaders([['grpc-status', '0']])]),
    );
    assert.equal(await ended, undefined);
    assert.equal(await reset(h.peer, opened.streamId), ErrorCode.NO_ERROR);
    h.peer.send(DATA, 0, opened.streamId, frame(Buffer.from('late')));
    assert.equal((await goaway(h.peer)).code, ErrorCode.STREAM_CLOSED);
  } finally {
    h.close();
  }
});

test('client role §6.9.1: DATA beyond the stream window we granted → RST_STREAM FLOW_CONTROL_ERROR', async () => {
  const h = duplexClient();
  try {
    h.peer.settings();
    const bidi = h.session.bidi('/EPS/Stream');
    // A reader that stops taking messages grants no more credit: the server must stop at the window.
    bidi.pause();
    const ended = new Promise<unknown>((resolve) => bidi.onEnd(resolve));
    const opened = await h.peer.next((f) => f.type === HEADERS);
    h.peer.send(HEADERS, END_HEADERS, opened.streamId, ANSWER_HEADERS);
    const body = Buffer.concat(Array.from({ length: 5 }, () => frame(Buffer.alloc(1 << 20, 7))));
    assert.ok(body.length > STREAM_WINDOW);
    for (let at = 0; at < body.length; at += 16_384) {
      h.peer.send(DATA, 0, opened.streamId, body.subarray(at, at + 16_384));
    }
    assert.equal(await reset(h.peer, opened.streamId), ErrorCode.FLOW_CONTROL_ERROR);
    const err = await ended;
    assert.ok(err instanceof GrpcError);
    await expectAnswered(h);
  } finally {
    h.close();
  }
});
