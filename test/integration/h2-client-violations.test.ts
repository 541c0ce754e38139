/**
 * Our HTTP/2 client (src/grpc/h2) against a hostile scripted server on real TLS: each protocol violation
 * ends the connection with the right GOAWAY, and random frames end a call cleanly, never in a crash or hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GrpcError, Status } from '../../src/grpc/status.js';
import { ErrorCode, Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { ANSWER_HEADERS, expectGrpcError, fakeServer } from '../helpers/h2-fake-server.js';
import { Deadline } from '../../src/core/deadline.js';

const { DATA, HEADERS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE } = FrameType;
const { END_HEADERS } = Flag;

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
    (p) => p.send(HEADERS, END_HEADERS, 2, ANSWER_HEADERS),
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
      const err = await expectGrpcError(call);
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
    assert.equal((await expectGrpcError(call)).code, Status.UNAVAILABLE);
    const goaway = await peer.next((f) => f.type === GOAWAY);
    assert.equal(goaway.payload.readUInt32BE(4), ErrorCode.PROTOCOL_ERROR);
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
