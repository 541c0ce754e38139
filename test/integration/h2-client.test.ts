/**
 * Our HTTP/2 client (src/grpc/h2) against a scripted server on real TLS: the protocol features real gRPC
 * servers use (Huffman, dynamic table, CONTINUATION, padding, flow control, GOAWAY, RST_STREAM, PING), and
 * the protocol violations a hostile server could commit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { frame } from '../../src/grpc/framing.js';
import { GrpcError, Status } from '../../src/grpc/status.js';
import { encodeHeaders } from '../../src/grpc/h2/hpack.js';
import { H2Connection } from '../../src/grpc/h2/connection.js';
import { ErrorCode, Flag, FrameType, Setting } from '../../src/grpc/h2/codes.js';
import { fakeServer, indexedLiteral } from '../helpers/h2-fake-server.js';
import { Deadline } from '../../src/core/deadline.js';

const { DATA, HEADERS, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION } =
  FrameType;
const { END_STREAM, END_HEADERS, PADDED, ACK } = Flag;

const OK_HEADERS = encodeHeaders([
  [':status', '200'],
  ['content-type', 'application/grpc'],
]);
const OK_TRAILERS = encodeHeaders([['grpc-status', '0']]);

async function grpcCode(p: Promise<unknown>): Promise<GrpcError> {
  const err = await p.then(
    () => assert.fail('the call should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof GrpcError, `expected a GrpcError, got ${String(err)}`);
  return err;
}

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

test('a request larger than the windows goes out in pieces as WINDOW_UPDATEs arrive', async () => {
  const { session, peer, close } = await fakeServer();
  try {
    peer.settings([[Setting.INITIAL_WINDOW_SIZE, 1000]]);
    await peer.next((f) => f.type === SETTINGS && (f.flags & ACK) === ACK); // the client applied it
    const payload = Buffer.alloc(200_000, 7);
    const call = session.unary('/EPS/Call', payload, Deadline.after(10_000));
    const h = await peer.next((f) => f.type === HEADERS);
    let streamWindow = 1000;
    let connectionWindow = 65_535;
    const parts: Buffer[] = [];
    for (;;) {
      const d = await peer.next((f) => f.type === DATA);
      assert.ok(d.payload.length <= 16_384, 'DATA frame within the default MAX_FRAME_SIZE');
      streamWindow -= d.payload.length;
      connectionWindow -= d.payload.length;
      assert.ok(streamWindow >= 0 && connectionWindow >= 0, 'the client respects both windows');
      parts.push(d.payload);
      if (d.flags & END_STREAM) break;
      if (d.payload.length > 0) {
        peer.u32(WINDOW_UPDATE, h.streamId, d.payload.length);
        peer.u32(WINDOW_UPDATE, 0, d.payload.length);
        streamWindow += d.payload.length;
        connectionWindow += d.payload.length;
      }
    }
    assert.deepEqual(Buffer.concat(parts), frame(payload));
    peer.answer(h.streamId, Buffer.from('got it'));
    assert.equal((await call).toString(), 'got it');
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
          peer.send(HEADERS, END_HEADERS, id, OK_HEADERS);
          peer.send(DATA, 0, id, frame(Buffer.from('one')));
          peer.send(DATA, 0, id, frame(Buffer.from('two')));
          peer.send(HEADERS, END_STREAM | END_HEADERS, id, OK_TRAILERS);
        },
        Status.INTERNAL,
        /expected exactly one response/,
      ],
    ];
    for (const [respond, code, message] of cases) {
      const call = session.unary('/EPS/Call', Buffer.from('x'), Deadline.after(5000));
      const req = await peer.request();
      respond(req.streamId);
      const err = await grpcCode(call);
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
    const errB = await grpcCode(b);
    assert.equal(errB.code, Status.UNAVAILABLE);
    assert.match(errB.details, /GOAWAY/);
    assert.equal(session.closed, true, 'the pool must open a new connection for new calls');
    peer.answer(reqA.streamId, Buffer.from('done'));
    assert.equal((await a).toString(), 'done');
    assert.equal(
      (await grpcCode(session.unary('/EPS/Call', Buffer.from('c'), Deadline.after(1000)))).code,
      Status.UNAVAILABLE,
    );
  } finally {
    await close();
  }
});

test('MAX_CONCURRENT_STREAMS is honoured: a second call waits until the first one ends', async () => {
  const { session, peer, close } = await fakeServer();
  try {
    peer.settings([[Setting.MAX_CONCURRENT_STREAMS, 1]]);
    await peer.next((f) => f.type === SETTINGS && (f.flags & ACK) === ACK); // the client applied them
    const a = session.unary('/EPS/Call', Buffer.from('a'), Deadline.after(5000));
    const b = session.unary('/EPS/Call', Buffer.from('b'), Deadline.after(5000));
    const reqA = await peer.request();
    await assert.rejects(
      peer.next((f) => f.type === HEADERS, 300),
      /timed out/,
    );
    peer.send(
      HEADERS,
      END_STREAM | END_HEADERS,
      reqA.streamId,
      encodeHeaders([
        [':status', '200'],
        ['grpc-status', '5'],
      ]),
    );
    assert.equal((await grpcCode(a)).code, 5);
    const reqB = await peer.request();
    assert.deepEqual(reqB.body, frame(Buffer.from('b')));
    peer.answer(reqB.streamId, Buffer.from('B'));
    assert.equal((await b).toString(), 'B');
  } finally {
    await close();
  }
});

const violations: [
  string,
  (p: Awaited<ReturnType<typeof fakeServer>>['peer'], id: number) => void,
  ErrorCode,
][] = [
  [
    'a frame above MAX_FRAME_SIZE',
    (p, id) => p.send(DATA, 0, id, Buffer.alloc(20_000)),
    ErrorCode.FRAME_SIZE_ERROR,
  ],
  [
    'PUSH_PROMISE',
    (p, id) => p.send(PUSH_PROMISE, END_HEADERS, id, Buffer.from([0, 0, 0, 2, 0x82])),
    ErrorCode.PROTOCOL_ERROR,
  ],
  ['DATA on stream 0', (p) => p.send(DATA, 0, 0, Buffer.from('x')), ErrorCode.PROTOCOL_ERROR],
  [
    'HEADERS on a stream the client never opened',
    (p) => p.send(HEADERS, END_HEADERS, 2, OK_HEADERS),
    ErrorCode.PROTOCOL_ERROR,
  ],
  [
    'a header block interrupted by another frame',
    (p, id) => {
      p.send(HEADERS, 0, id, Buffer.from([0x88]));
      p.send(PING, 0, 0, Buffer.alloc(8));
    },
    ErrorCode.PROTOCOL_ERROR,
  ],
  [
    'an undecodable header block',
    (p, id) => p.send(HEADERS, END_HEADERS, id, Buffer.from([0x80])),
    ErrorCode.COMPRESSION_ERROR,
  ],
  [
    'a connection window above 2^31-1',
    (p) => {
      p.u32(WINDOW_UPDATE, 0, 0x7fffffff);
      p.u32(WINDOW_UPDATE, 0, 0x7fffffff);
    },
    ErrorCode.FLOW_CONTROL_ERROR,
  ],
  ['garbage bytes', (p) => p.socket.write('this is not HTTP/2 at all'), ErrorCode.FRAME_SIZE_ERROR],
];

for (const [what, misbehave, code] of violations) {
  test(`protocol violation (${what}): GOAWAY to the server, calls fail with UNAVAILABLE`, async () => {
    const { session, peer, close } = await fakeServer();
    try {
      peer.settings();
      const call = session.unary('/EPS/Call', Buffer.from('x'), Deadline.after(5000));
      const req = await peer.request();
      misbehave(peer, req.streamId);
      const err = await grpcCode(call);
      assert.equal(err.code, Status.UNAVAILABLE);
      assert.match(err.details, /HTTP\/2 protocol error/);
      const goaway = await peer.next((f) => f.type === GOAWAY);
      assert.equal(goaway.payload.readUInt32BE(4), code);
      assert.equal(session.closed, true);
    } finally {
      await close();
    }
  });
}

test('a server that does not start with SETTINGS is refused', async () => {
  const { session, peer, close } = await fakeServer();
  try {
    const call = session.unary('/EPS/Call', Buffer.from('x'), Deadline.after(5000));
    await peer.next((f) => f.type === HEADERS);
    peer.send(PING, 0, 0, Buffer.alloc(8));
    assert.equal((await grpcCode(call)).code, Status.UNAVAILABLE);
    const goaway = await peer.next((f) => f.type === GOAWAY);
    assert.equal(goaway.payload.readUInt32BE(4), ErrorCode.PROTOCOL_ERROR);
  } finally {
    await close();
  }
});

test('a window shrunk by SETTINGS mid-call (negative window) holds data until WINDOW_UPDATE', async () => {
  const { session, peer, close } = await fakeServer();
  try {
    peer.settings([[Setting.INITIAL_WINDOW_SIZE, 0]]); // no request data may flow yet
    await peer.next((f) => f.type === SETTINGS && (f.flags & ACK) === ACK);
    const call = session.unary('/EPS/Call', Buffer.alloc(1000, 3), Deadline.after(5000));
    const h = await peer.next((f) => f.type === HEADERS);
    peer.settings([[Setting.INITIAL_WINDOW_SIZE, 100]]); // grows every stream window by 100
    const first = await peer.next((f) => f.type === DATA);
    assert.equal(first.payload.length, 100);
    peer.settings([[Setting.INITIAL_WINDOW_SIZE, 0]]); // shrinks it by 100 again: the window is now 0
    await peer.next((f) => f.type === SETTINGS && (f.flags & ACK) === ACK);
    await assert.rejects(
      peer.next((f) => f.type === DATA, 300),
      /timed out/,
    );
    peer.u32(WINDOW_UPDATE, h.streamId, 10_000);
    const rest = await peer.next((f) => f.type === DATA);
    assert.equal(rest.payload.length, 1005 - 100);
    assert.equal(rest.flags & END_STREAM, END_STREAM);
    peer.answer(h.streamId, Buffer.from('ok'));
    assert.equal((await call).toString(), 'ok');
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

test('PINGs while our own large request fills the socket are answered, not taken for a flood', async () => {
  const { session, peer, close } = await fakeServer();
  try {
    peer.settings([[Setting.INITIAL_WINDOW_SIZE, 8 * 1024 * 1024]]);
    peer.u32(WINDOW_UPDATE, 0, 16 * 1024 * 1024);
    await peer.next((f) => f.type === SETTINGS && (f.flags & ACK) === ACK);
    peer.socket.pause(); // the server reads nothing for now: our 4 MiB request backs up in our socket
    const payload = Buffer.alloc(4 * 1024 * 1024, 9);
    const call = session.unary('/EPS/Call', payload, Deadline.after(20_000));
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 20; i++) peer.send(PING, 0, 0, Buffer.alloc(8, i)); // as grpc-go's BDP pings do
    peer.socket.resume();
    const req = await peer.request();
    assert.equal(req.body.length, payload.length + 5);
    peer.answer(req.streamId, Buffer.from('big ok'));
    assert.equal((await call).toString(), 'big ok');
    assert.equal(session.closed, false);
  } finally {
    await close();
  }
});

test('fuzz: random frames from a server end in a GrpcError or an answer, never a crash or a hang', async () => {
  const frameArb = fc.record({
    type: fc.integer({ min: 0, max: 10 }),
    flags: fc.integer({ min: 0, max: 255 }),
    streamId: fc.constantFrom(0, 1, 2, 3, 0x7fffffff),
    payload: fc.uint8Array({ maxLength: 64 }),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(frameArb, { minLength: 1, maxLength: 25 }), async (frames) => {
      const { session, peer, close } = await fakeServer();
      try {
        peer.settings();
        const call = session.unary('/EPS/Call', Buffer.from('x'), Deadline.after(500)).then(
          () => 'answered',
          (e: unknown) => {
            assert.ok(e instanceof GrpcError, `not a GrpcError: ${String(e)}`);
            return 'failed';
          },
        );
        await peer.request();
        for (const f of frames) peer.send(f.type, f.flags, f.streamId, Buffer.from(f.payload));
        assert.match(await call, /answered|failed/);
      } finally {
        await close();
      }
    }),
    { numRuns: 40 },
  );
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
