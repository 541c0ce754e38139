/**
 * Our gRPC server (own HTTP/2, src/grpc/h2) against a scripted client on real TLS: a unary call in one
 * write each way, flow control of large answers, bad requests, cancelled calls and the per-connection limits
 * on streams and unfinished messages.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { GrpcServer } from '../../src/grpc/server.js';
import { frame } from '../../src/grpc/framing.js';
import { encodeHeaders } from '../../src/grpc/h2/hpack.js';
import { ErrorCode, Flag, FrameType, Setting } from '../../src/grpc/h2/codes.js';
import { fakeClient, type FakePeer } from '../helpers/h2-fake-server.js';
import { BIG_ANSWER, grpcRequest, handshake, startScriptedServer } from '../helpers/h2-grpc-server.js';

const { DATA, HEADERS, RST_STREAM, WINDOW_UPDATE } = FrameType;
const { END_STREAM, END_HEADERS } = Flag;

let server: GrpcServer;
let port: number;

before(async () => {
  ({ server, port } = await startScriptedServer());
});

after(async () => {
  await server.close();
});

test('a unary call: headers, one message and trailers come back in order', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    peer.send(HEADERS, END_HEADERS, 1, grpcRequest());
    peer.send(DATA, END_STREAM, 1, frame(Buffer.from('hi')));
    const r = await peer.response(1);
    assert.equal(r.headers[':status'], '200');
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.deepEqual(r.body, frame(Buffer.from('re:hi')));
    assert.equal(r.trailers['grpc-status'], '0');
  } finally {
    peer.socket.destroy();
  }
});

test('a large answer respects the client window and continues as WINDOW_UPDATEs arrive', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer, [[Setting.INITIAL_WINDOW_SIZE, 5000]]);
    peer.send(HEADERS, END_HEADERS, 1, grpcRequest());
    peer.send(DATA, END_STREAM, 1, frame(Buffer.from('big')));
    await peer.next((f) => f.type === HEADERS && f.streamId === 1);
    let window = 5000;
    let connection = 65_535;
    const parts: Buffer[] = [];
    while (Buffer.concat(parts).length < BIG_ANSWER.length + 5) {
      const d = await peer.next((f) => f.type === DATA && f.streamId === 1);
      window -= d.payload.length;
      connection -= d.payload.length;
      assert.ok(window >= 0 && connection >= 0, 'the server respects both windows');
      parts.push(d.payload);
      peer.u32(WINDOW_UPDATE, 1, d.payload.length);
      peer.u32(WINDOW_UPDATE, 0, d.payload.length);
      window += d.payload.length;
      connection += d.payload.length;
    }
    assert.deepEqual(Buffer.concat(parts), frame(BIG_ANSWER));
    const t = await peer.next((f) => f.type === HEADERS && f.streamId === 1);
    assert.equal(t.flags & END_STREAM, END_STREAM);
    assert.equal(peer.decoder.decode(t.payload).headers['grpc-status'], '0');
  } finally {
    peer.socket.destroy();
  }
});

test('bad requests get a gRPC status or HTTP error and the connection keeps serving', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    // Unknown method.
    peer.send(HEADERS, END_HEADERS, 1, grpcRequest('/EPS/Nope'));
    peer.send(DATA, END_STREAM, 1, frame(Buffer.from('x')));
    const unknown = await peer.response(1);
    assert.equal(unknown.headers['grpc-status'], '12');
    assert.match(unknown.headers['grpc-message'] ?? '', /unknown method/);
    // Not gRPC.
    peer.send(
      HEADERS,
      END_HEADERS | END_STREAM,
      3,
      encodeHeaders([
        [':method', 'GET'],
        [':path', '/'],
        [':scheme', 'https'],
      ]),
    );
    assert.equal((await peer.response(3)).headers[':status'], '415');
    // A message over the limit is refused from its length prefix, before it arrives.
    const header = Buffer.alloc(5);
    header.writeUInt32BE(2 * 1024 * 1024, 1);
    peer.send(HEADERS, END_HEADERS, 5, grpcRequest());
    peer.send(DATA, 0, 5, header);
    const oversized = await peer.response(5);
    assert.equal(oversized.headers['grpc-status'], '8');
    assert.match(decodeURIComponent(oversized.headers['grpc-message'] ?? ''), /larger than max/);
    // Two messages in a unary call.
    peer.send(HEADERS, END_HEADERS, 7, grpcRequest());
    peer.send(DATA, END_STREAM, 7, Buffer.concat([frame(Buffer.from('a')), frame(Buffer.from('b'))]));
    assert.equal((await peer.response(7)).headers['grpc-status'], '13');
    // Compressed message flag.
    peer.send(HEADERS, END_HEADERS, 9, grpcRequest());
    peer.send(DATA, END_STREAM, 9, Buffer.from([1, 0, 0, 0, 1, 0x61]));
    assert.equal((await peer.response(9)).headers['grpc-status'], '12');
    // A handler that throws ends its call with INTERNAL, not the connection.
    peer.send(HEADERS, END_HEADERS, 11, grpcRequest('/EPS/Broken'));
    const broken = await peer.response(11);
    assert.equal(broken.headers[':status'], '200');
    assert.equal(broken.trailers['grpc-status'], '13', 'as trailers: the response headers were out already');
    // Still serving.
    peer.send(HEADERS, END_HEADERS, 13, grpcRequest());
    peer.send(DATA, END_STREAM, 13, frame(Buffer.from('ok')));
    assert.deepEqual((await peer.response(13)).body, frame(Buffer.from('re:ok')));
  } finally {
    peer.socket.destroy();
  }
});

test('a cancelled call (RST_STREAM from the client) frees the stream; the connection keeps serving', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    peer.send(HEADERS, END_HEADERS, 1, grpcRequest('/EPS/Never'));
    peer.send(DATA, END_STREAM, 1, frame(Buffer.from('x')));
    peer.u32(RST_STREAM, 1, ErrorCode.CANCEL);
    peer.send(HEADERS, END_HEADERS, 3, grpcRequest());
    peer.send(DATA, END_STREAM, 3, frame(Buffer.from('after')));
    assert.deepEqual((await peer.response(3)).body, frame(Buffer.from('re:after')));
  } finally {
    peer.socket.destroy();
  }
});

test('streams above MAX_CONCURRENT_STREAMS are refused with REFUSED_STREAM', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    for (let i = 0; i < 1000; i++) peer.send(HEADERS, END_HEADERS, 2 * i + 1, grpcRequest('/EPS/Never'));
    peer.send(HEADERS, END_HEADERS, 2001, grpcRequest('/EPS/Never'));
    const rst = await peer.next((f) => f.type === RST_STREAM);
    assert.equal(rst.streamId, 2001);
    assert.equal(rst.payload.readUInt32BE(0), ErrorCode.REFUSED_STREAM);
  } finally {
    peer.socket.destroy();
  }
});

/** DATA frames of at most 16 KiB (the server's MAX_FRAME_SIZE). */
function sendData(peer: FakePeer, streamId: number, data: Buffer, end: boolean): void {
  for (let pos = 0; pos < data.length; pos += 16_384) {
    const last = pos + 16_384 >= data.length;
    peer.send(DATA, last && end ? END_STREAM : 0, streamId, data.subarray(pos, pos + 16_384));
  }
}

test('unfinished messages are bounded per connection; calls within the bound still complete', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    const message = frame(Buffer.alloc(1_000_000, 1));
    const head = message.subarray(0, 900_000);
    const tail = message.subarray(900_000);
    for (const id of [1, 3, 5]) {
      peer.send(HEADERS, END_HEADERS, id, grpcRequest('/EPS/Size'));
      sendData(peer, id, head, false);
    }
    // 3 x 900 KB parked: the third stream goes over the 2 MiB budget and is refused.
    const refused = await peer.response(5);
    assert.equal(refused.headers['grpc-status'], '8');
    assert.match(
      decodeURIComponent(refused.headers['grpc-message'] ?? ''),
      /unread message data in this connection/,
    );
    for (const id of [1, 3]) {
      sendData(peer, id, tail, true);
      assert.deepEqual((await peer.response(id)).body, frame(Buffer.from('size 1000000')));
    }
    // The budget was given back: the same again works.
    peer.send(HEADERS, END_HEADERS, 7, grpcRequest('/EPS/Size'));
    sendData(peer, 7, message, true);
    assert.deepEqual((await peer.response(7)).body, frame(Buffer.from('size 1000000')));
  } finally {
    peer.socket.destroy();
  }
});
