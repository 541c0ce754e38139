/**
 * Our gRPC server (own HTTP/2) refuses malformed requests as RFC 9113 §8.1.1 requires, with a stream
 * error PROTOCOL_ERROR (RST_STREAM) before any handler runs, and keeps serving the connection: header
 * fields that break §8.2 (upper case, bad values, connection-specific, TE), pseudo-header fields that
 * break §8.3 (unknown, response ones, misplaced, missing, empty, repeated), trailers without END_STREAM
 * or with pseudo-header fields, and bodies that do not add up to their content-length. Real TLS sockets.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { GrpcServer } from '../../src/grpc/server.js';
import { frame } from '../../src/grpc/framing.js';
import { encodeHeaders } from '../../src/grpc/h2/hpack.js';
import { ErrorCode, Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { fakeClient, type FakePeer } from '../helpers/h2-fake-server.js';
import { grpcRequest, handshake, startScriptedServer } from '../helpers/h2-grpc-server.js';

const { DATA, HEADERS, RST_STREAM } = FrameType;
const { END_STREAM, END_HEADERS } = Flag;

type Fields = [string, string][];
const PSEUDO: Fields = [
  [':method', 'POST'],
  [':scheme', 'https'],
  [':path', '/EPS/Call'],
  [':authority', 'ls-1'],
];
const REGULAR: Fields = [
  ['content-type', 'application/grpc'],
  ['te', 'trailers'],
];

let server: GrpcServer;
let port: number;

before(async () => {
  ({ server, port } = await startScriptedServer());
});

after(async () => {
  await server.close();
});

/** The server's first answer on `streamId` must be RST_STREAM with `code` (not response headers). */
async function expectReset(peer: FakePeer, streamId: number, code: ErrorCode, what: string): Promise<void> {
  const f = await peer.next((x) => x.streamId === streamId && (x.type === RST_STREAM || x.type === HEADERS));
  assert.equal(f.type, RST_STREAM, `${what}: refused, not answered`);
  assert.equal(f.payload.readUInt32BE(0), code, `${what}: error code`);
}

/** A call on a fresh stream still works: the connection survived. */
async function expectServing(peer: FakePeer, streamId: number): Promise<void> {
  peer.send(HEADERS, END_HEADERS, streamId, grpcRequest());
  peer.send(DATA, END_STREAM, streamId, frame(Buffer.from('still')));
  assert.deepEqual((await peer.response(streamId)).body, frame(Buffer.from('re:still')));
}

test('malformed request headers are refused with RST_STREAM PROTOCOL_ERROR; the connection serves on', async () => {
  const without = (name: string): Fields => PSEUDO.filter(([n]) => n !== name);
  const cases: [string, Fields][] = [
    ['an upper-case field name', [...PSEUDO, ...REGULAR, ['X-Upper', '1']]],
    ['a field name with a space', [...PSEUDO, ...REGULAR, ['x bad', '1']]],
    ['a field value with a line feed', [...PSEUDO, ...REGULAR, ['x-note', 'a\nb']]],
    ['a field value with a leading space', [...PSEUDO, ...REGULAR, ['x-note', ' a']]],
    ['an unknown pseudo-header field', [...PSEUDO, [':foo', 'bar'], ...REGULAR]],
    ['the response pseudo-header :status', [...PSEUDO, [':status', '200'], ...REGULAR]],
    [
      'a pseudo-header field after a regular one',
      [...without(':authority'), ...REGULAR, [':authority', 'ls-1']],
    ],
    ['a connection header', [...PSEUDO, ...REGULAR, ['connection', 'keep-alive']]],
    ['a transfer-encoding header', [...PSEUDO, ...REGULAR, ['transfer-encoding', 'chunked']]],
    ['te other than trailers', [...PSEUDO, ['content-type', 'application/grpc'], ['te', 'gzip']]],
    ['no :method', [...without(':method'), ...REGULAR]],
    ['no :scheme', [...without(':scheme'), ...REGULAR]],
    ['no :path', [...without(':path'), ...REGULAR]],
    ['an empty :path', [...without(':path'), [':path', ''], ...REGULAR]],
    ['a relative :path', [...without(':path'), [':path', 'EPS/Call'], ...REGULAR]],
    [':method twice', [[':method', 'POST'], ...PSEUDO, ...REGULAR]],
    [':scheme twice', [[':scheme', 'https'], ...PSEUDO, ...REGULAR]],
    [':path twice', [[':path', '/EPS/Call'], ...PSEUDO, ...REGULAR]],
    ['a content-length that is not a number', [...PSEUDO, ...REGULAR, ['content-length', '1x']]],
  ];
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    let id = 1;
    for (const [what, fields] of cases) {
      peer.send(HEADERS, END_HEADERS | END_STREAM, id, encodeHeaders(fields));
      await expectReset(peer, id, ErrorCode.PROTOCOL_ERROR, what);
      id += 2;
    }
    await expectServing(peer, id);
  } finally {
    peer.socket.destroy();
  }
});

test('a body that does not add up to its content-length is refused; one that does is served', async () => {
  const message = frame(Buffer.from('hello'));
  const declared = (n: number | string): Buffer => grpcRequest('/EPS/Call', [['content-length', String(n)]]);
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    // More DATA than declared (the excess is noticed before the end of the stream).
    peer.send(HEADERS, END_HEADERS, 1, declared(1));
    peer.send(DATA, 0, 1, message);
    await expectReset(peer, 1, ErrorCode.PROTOCOL_ERROR, 'more than declared');
    // Less DATA than declared, in two frames.
    peer.send(HEADERS, END_HEADERS, 3, declared(message.length + 4));
    peer.send(DATA, 0, 3, message.subarray(0, 4));
    peer.send(DATA, END_STREAM, 3, message.subarray(4));
    await expectReset(peer, 3, ErrorCode.PROTOCOL_ERROR, 'less than declared');
    // A declared body, then no DATA at all.
    peer.send(HEADERS, END_HEADERS | END_STREAM, 5, declared(5));
    await expectReset(peer, 5, ErrorCode.PROTOCOL_ERROR, 'declared, none sent');
    // Exactly as declared, in two frames.
    peer.send(HEADERS, END_HEADERS, 7, declared(message.length));
    peer.send(DATA, 0, 7, message.subarray(0, 3));
    peer.send(DATA, END_STREAM, 7, message.subarray(3));
    assert.deepEqual((await peer.response(7)).body, frame(Buffer.from('re:hello')));
  } finally {
    peer.socket.destroy();
  }
});

test('trailers without END_STREAM or with a pseudo-header field are refused; proper trailers are fine', async () => {
  const message = frame(Buffer.from('x'));
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    peer.send(HEADERS, END_HEADERS, 1, grpcRequest());
    peer.send(DATA, 0, 1, message);
    peer.send(HEADERS, END_HEADERS, 1, encodeHeaders([['x-trailer', 'ok']]));
    await expectReset(peer, 1, ErrorCode.PROTOCOL_ERROR, 'trailers without END_STREAM');
    peer.send(HEADERS, END_HEADERS, 3, grpcRequest());
    peer.send(DATA, 0, 3, message);
    peer.send(HEADERS, END_HEADERS | END_STREAM, 3, encodeHeaders([[':path', '/EPS/Call']]));
    await expectReset(peer, 3, ErrorCode.PROTOCOL_ERROR, 'a pseudo-header field in trailers');
    peer.send(HEADERS, END_HEADERS, 5, grpcRequest());
    peer.send(DATA, 0, 5, message);
    peer.send(HEADERS, END_HEADERS | END_STREAM, 5, encodeHeaders([['x-trailer', 'ok']]));
    assert.deepEqual((await peer.response(5)).body, frame(Buffer.from('re:x')));
  } finally {
    peer.socket.destroy();
  }
});
