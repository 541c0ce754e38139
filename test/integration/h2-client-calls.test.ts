/**
 * Our HTTP/2 client (src/grpc/h2) against a scripted server on real TLS: answers in every form real gRPC
 * servers send (Huffman, dynamic table, CONTINUATION, padding, split DATA), stream-level failures, GOAWAY
 * (also in two phases) and keepalive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frame } from '../../src/grpc/framing.js';
import { Status } from '../../src/grpc/status.js';
import { encodeHeaders } from '../../src/grpc/h2/hpack.js';
import { H2Connection } from '../../src/grpc/h2/connection.js';
import { ErrorCode, Flag, FrameType } from '../../src/grpc/h2/codes.js';
import {
  ANSWER_HEADERS,
  ANSWER_TRAILERS,
  expectGrpcError,
  fakeServer,
  indexedLiteral,
} from '../helpers/h2-fake-server.js';
import { Deadline } from '../../src/core/deadline.js';

const { DATA, HEADERS, RST_STREAM, PING, GOAWAY, CONTINUATION } = FrameType;
const { END_STREAM, END_HEADERS, PADDED, ACK } = Flag;

test('answers arrive through Huffman, the dynamic table, CONTINUATION, padding and split DATA', async () => {
  const { session, peer, close } = await fakeServer();
  try {
    peer.settings();
    const first = session.unary('/EPS/Call', Buffer.from('hello'), Deadline.after(5000));
    const req = await peer.request();
    assert.equal(req.headers[':method'], 'POST');
    assert.equal(req.headers[':path'], '/EPS/Call');
    assert.equal(req.headers[':authority'], 'ls-1');
    assert.equal(req.headers['content-type'], 'application/grpc');
    assert.equal(req.headers.te, 'trailers');
    assert.match(req.headers['grpc-timeout'] ?? '', /^\d+m$/);
    assert.deepEqual(req.body, frame(Buffer.from('hello')));

    // Headers split over HEADERS + CONTINUATION, fields added to the dynamic table with Huffman strings.
    const block = Buffer.concat([Buffer.from([0x88]), indexedLiteral('content-type', 'application/grpc')]);
    peer.send(HEADERS, 0, req.streamId, block.subarray(0, 3));
    peer.send(CONTINUATION, END_HEADERS, req.streamId, block.subarray(3));
    // The server pings in the middle: the client must answer with the same payload.
    peer.send(PING, 0, 0, Buffer.from('12345678'));
    const message = frame(Buffer.from('world'));
    const padded = Buffer.concat([Buffer.from([4]), message.subarray(0, 4), Buffer.alloc(4)]);
    peer.send(DATA, PADDED, req.streamId, padded);
    peer.send(DATA, 0, req.streamId, message.subarray(4));
    peer.send(HEADERS, END_STREAM | END_HEADERS, req.streamId, indexedLiteral('grpc-status', '0'));
    assert.equal((await first).toString(), 'world');
    const pong = await peer.next((f) => f.type === PING);
    assert.equal(pong.flags & ACK, ACK);
    assert.equal(pong.payload.toString(), '12345678');

    // Second call: the response refers to the dynamic table entries only.
    const second = session.unary('/EPS/Call', Buffer.from('again'), Deadline.after(5000));
    const req2 = await peer.request();
    assert.equal(req2.streamId, req.streamId + 2);
    peer.send(HEADERS, END_HEADERS, req2.streamId, Buffer.from([0x88, 0xbf]));
    peer.send(DATA, 0, req2.streamId, frame(Buffer.from('twice')));
    peer.send(HEADERS, END_STREAM | END_HEADERS, req2.streamId, Buffer.from([0xbe]));
    assert.equal((await second).toString(), 'twice');
  } finally {
    await close();
  }
});

test('stream-level failures become gRPC errors and the connection stays usable', async () => {
  const { session, peer, close } = await fakeServer();
  try {
    peer.settings();
    const cases: [(id: number) => void, number, RegExp][] = [
      [(id) => peer.u32(RST_STREAM, id, ErrorCode.REFUSED_STREAM), Status.UNAVAILABLE, /REFUSED_STREAM/],
      [(id) => peer.u32(RST_STREAM, id, ErrorCode.CANCEL), Status.CANCELLED, /CANCEL/],
      [
        (id) =>
          peer.send(
            HEADERS,
            END_STREAM | END_HEADERS,
            id,
            encodeHeaders([
              [':status', '200'],
              ['content-type', 'application/grpc'],
              ['grpc-status', '7'],
              ['grpc-message', 'no%20permission%20%E2%9C%93'],
            ]),
          ),
        7,
        /no permission ✓/,
      ],
      [
        (id) => peer.send(HEADERS, END_STREAM | END_HEADERS, id, encodeHeaders([[':status', '503']])),
        Status.UNKNOWN,
        /unexpected HTTP status code received from server: 503/,
      ],
      [
        // 4 KiB entry in the dynamic table, then referenced 20 times: an 80 KiB header list from 24 bytes.
        (id) => {
          const big = Buffer.concat([
            Buffer.from([0x40, 0x01, 0x78, 0x7f, 0xa1, 0x1e]),
            Buffer.alloc(4000, 0x61),
          ]);
          peer.send(HEADERS, END_HEADERS, id, Buffer.concat([big, Buffer.alloc(20, 0xbe)]));
        },
        Status.INTERNAL,
        /header list above/,
      ],
      [
        (id) => {
          peer.send(HEADERS, END_HEADERS, id, ANSWER_HEADERS);
          peer.send(DATA, 0, id, frame(Buffer.from('one')));
          peer.send(DATA, 0, id, frame(Buffer.from('two')));
          peer.send(HEADERS, END_STREAM | END_HEADERS, id, ANSWER_TRAILERS);
        },
        Status.INTERNAL,
        /expected exactly one response/,
      ],
    ];
    for (const [respond, code, message] of cases) {
      const call = session.unary('/EPS/Call', Buffer.from('x'), Deadline.after(5000));
      const req = await peer.request();
      respond(req.streamId);
      const err = await expectGrpcError(call);
      assert.equal(err.code, code, err.message);
      assert.match(err.details, message);
    }
    const ok = session.unary('/EPS/Call', Buffer.from('x'), Deadline.after(5000));
    const req = await peer.request();
    peer.answer(req.streamId, Buffer.from('fine'));
    assert.equal((await ok).toString(), 'fine');
    assert.equal(session.closed, false);
  } finally {
    await close();
  }
});

test('GOAWAY: calls above the last stream id fail as UNAVAILABLE, older ones complete, no new calls', async () => {
  const { session, peer, close } = await fakeServer();
  try {
    peer.settings();
    const a = session.unary('/EPS/Call', Buffer.from('a'), Deadline.after(5000));
    const reqA = await peer.request();
    const b = session.unary('/EPS/Call', Buffer.from('b'), Deadline.after(5000));
    await peer.request();
    const goaway = Buffer.alloc(8);
    goaway.writeUInt32BE(reqA.streamId, 0);
    peer.send(GOAWAY, 0, 0, goaway);
    const errB = await expectGrpcError(b);
    assert.equal(errB.code, Status.UNAVAILABLE);
    assert.match(errB.details, /GOAWAY/);
    assert.equal(session.closed, true, 'the pool must open a new connection for new calls');
    peer.answer(reqA.streamId, Buffer.from('done'));
    assert.equal((await a).toString(), 'done');
    assert.equal(
      (await expectGrpcError(session.unary('/EPS/Call', Buffer.from('c'), Deadline.after(1000)))).code,
      Status.UNAVAILABLE,
    );
  } finally {
    await close();
  }
});

test('two-phase GOAWAY (2^31-1, then the real last id) as grpc-go sends it on shutdown', async () => {
  const { session, peer, close } = await fakeServer();
  try {
    peer.settings();
    const a = session.unary('/EPS/Call', Buffer.from('a'), Deadline.after(5000));
    const reqA = await peer.request();
    const goaway = (last: number): void => {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(last, 0);
      peer.send(GOAWAY, 0, 0, p);
    };
    goaway(0x7fffffff);
    peer.send(PING, 0, 0, Buffer.from('shutdown'));
    await peer.next((f) => f.type === PING && (f.flags & ACK) === ACK);
    assert.equal(session.closed, true, 'no new calls after the first GOAWAY');
    goaway(reqA.streamId);
    peer.answer(reqA.streamId, Buffer.from('finished'));
    assert.equal((await a).toString(), 'finished');
  } finally {
    await close();
  }
});

test('keepalive: an unanswered PING ends the connection after its timeout; an answered one does not', async (t) => {
  const { session: conn, peer, close } = await fakeServer((socket) => new H2Connection(socket, 'client'));
  try {
    peer.settings();
    const closed = new Promise<Error | undefined>((resolve) => conn.onClose(resolve));
    t.mock.timers.enable({ apis: ['setTimeout'] }); // the keepalive timer; the peer's waits stay real
    conn.keepalive(300);
    const ping = await peer.next((f) => f.type === PING);
    peer.send(PING, ACK, 0, ping.payload); // answered
    // A PING of ours answered after it: the client has read the answer above.
    peer.send(PING, 0, 0, Buffer.from('in order'));
    await peer.next((f) => f.type === PING && f.payload.toString() === 'in order');
    t.mock.timers.tick(300);
    assert.equal(conn.closed, false);
    conn.keepalive(300); // not answered this time
    await peer.next((f) => f.type === PING);
    t.mock.timers.tick(299);
    assert.equal(conn.closed, false, 'not before the timeout');
    t.mock.timers.tick(1);
    assert.match(String((await closed)?.message), /keepalive ping not answered/);
    assert.equal(conn.closed, true);
  } finally {
    await close();
  }
});
