/**
 * Our gRPC server (own HTTP/2) answers frames for streams that are not open as RFC 9113 §5.1 says, and
 * checks PRIORITY frames (§6.3, §5.3.1) although it ignores priorities: DATA or HEADERS after the client
 * reset a stream is a stream error STREAM_CLOSED, after a stream ended a connection error STREAM_CLOSED;
 * HEADERS reusing a lower stream id is a connection error PROTOCOL_ERROR; frames the client sent before our
 * RST_STREAM reached it are ignored. Real TLS sockets against the scripted server.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { GrpcServer } from '../../src/grpc/server.js';
import { frame } from '../../src/grpc/framing.js';
import { ErrorCode, Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { fakeClient, type FakePeer } from '../helpers/h2-fake-server.js';
import { grpcRequest, handshake, startScriptedServer } from '../helpers/h2-grpc-server.js';

const { DATA, HEADERS, PRIORITY, RST_STREAM, GOAWAY } = FrameType;
const { END_STREAM, END_HEADERS } = Flag;

let server: GrpcServer;
let port: number;

before(async () => {
  ({ server, port } = await startScriptedServer());
});

after(async () => {
  await server.close();
});

/** A PRIORITY payload: dependency on `dependsOn`, weight 16. */
function priority(dependsOn: number): Buffer {
  const p = Buffer.alloc(5);
  p.writeUInt32BE(dependsOn, 0);
  p[4] = 15;
  return p;
}

/** A complete unary call on `streamId`. */
async function call(peer: FakePeer, streamId: number): Promise<void> {
  peer.send(HEADERS, END_HEADERS, streamId, grpcRequest());
  peer.send(DATA, END_STREAM, streamId, frame(Buffer.from('hi')));
  assert.deepEqual((await peer.response(streamId)).body, frame(Buffer.from('re:hi')));
}

async function expectReset(peer: FakePeer, streamId: number, code: ErrorCode, what: string): Promise<void> {
  const f = await peer.next((x) => x.type === RST_STREAM && x.streamId === streamId);
  assert.equal(f.payload.readUInt32BE(0), code, what);
}

/** Runs `misbehave` on a fresh connection; the server must end it with GOAWAY carrying `code`. */
async function expectGoaway(
  code: ErrorCode,
  what: string,
  misbehave: (p: FakePeer) => Promise<void>,
): Promise<void> {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    await misbehave(peer);
    const goaway = await peer.next((f) => f.type === GOAWAY);
    assert.equal(goaway.payload.readUInt32BE(4), code, what);
  } finally {
    peer.socket.destroy();
  }
}

test('DATA or HEADERS after the client reset a stream: RST_STREAM STREAM_CLOSED, the connection serves on', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    peer.send(HEADERS, END_HEADERS, 1, grpcRequest());
    peer.u32(RST_STREAM, 1, ErrorCode.CANCEL);
    peer.send(DATA, END_STREAM, 1, frame(Buffer.from('late')));
    await expectReset(peer, 1, ErrorCode.STREAM_CLOSED, 'DATA after RST_STREAM');
    peer.send(HEADERS, END_HEADERS, 3, grpcRequest());
    peer.u32(RST_STREAM, 3, ErrorCode.CANCEL);
    peer.send(HEADERS, END_HEADERS | END_STREAM, 3, grpcRequest());
    await expectReset(peer, 3, ErrorCode.STREAM_CLOSED, 'HEADERS after RST_STREAM');
    await call(peer, 5);
  } finally {
    peer.socket.destroy();
  }
});

test('DATA or HEADERS on a stream that ended, or HEADERS on a lower stream id, end the connection', async () => {
  await expectGoaway(ErrorCode.STREAM_CLOSED, 'DATA after the end', async (p) => {
    await call(p, 1);
    p.send(DATA, END_STREAM, 1, frame(Buffer.from('more')));
  });
  await expectGoaway(ErrorCode.STREAM_CLOSED, 'HEADERS after the end', async (p) => {
    await call(p, 1);
    p.send(HEADERS, END_HEADERS | END_STREAM, 1, grpcRequest());
  });
  await expectGoaway(ErrorCode.PROTOCOL_ERROR, 'a lower stream id never used', async (p) => {
    await call(p, 5);
    p.send(HEADERS, END_HEADERS | END_STREAM, 3, grpcRequest());
  });
});

test('frames the client sent before our RST_STREAM reached it are ignored', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    // An unknown method is answered at once, before the request ends: the server then stops the stream
    // with RST_STREAM NO_ERROR; the rest of the request, already on its way, must not count as an error.
    peer.send(HEADERS, END_HEADERS, 1, grpcRequest('/EPS/Nope'));
    await expectReset(peer, 1, ErrorCode.NO_ERROR, 'the server stops the request it answered');
    peer.send(DATA, 0, 1, frame(Buffer.from('rest')));
    peer.send(DATA, END_STREAM, 1, frame(Buffer.from('of it')));
    await call(peer, 3);
  } finally {
    peer.socket.destroy();
  }
});

test('PRIORITY frames: stream 0, a wrong length and self-dependency are errors; valid ones are ignored', async () => {
  await expectGoaway(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0', async (p) => {
    p.send(PRIORITY, 0, 0, priority(1));
    return Promise.resolve();
  });
  await expectGoaway(ErrorCode.PROTOCOL_ERROR, 'an idle stream depending on itself', async (p) => {
    p.send(PRIORITY, 0, 9, priority(9));
    return Promise.resolve();
  });
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    peer.send(HEADERS, END_HEADERS, 1, grpcRequest());
    peer.send(PRIORITY, 0, 1, priority(0).subarray(0, 4));
    await expectReset(peer, 1, ErrorCode.FRAME_SIZE_ERROR, 'PRIORITY of 4 bytes on an open stream');
    peer.send(HEADERS, END_HEADERS, 3, grpcRequest());
    peer.send(PRIORITY, 0, 3, priority(3));
    await expectReset(peer, 3, ErrorCode.PROTOCOL_ERROR, 'an open stream depending on itself');
    // HEADERS with the PRIORITY flag, depending on itself.
    peer.send(
      HEADERS,
      END_HEADERS | END_STREAM | Flag.PRIORITY,
      5,
      Buffer.concat([priority(5), grpcRequest()]),
    );
    await expectReset(peer, 5, ErrorCode.PROTOCOL_ERROR, 'HEADERS depending on itself');
    // PRIORITY for an idle stream does not open it: a lower stream id may still open after it.
    peer.send(PRIORITY, 0, 11, priority(0));
    await call(peer, 7);
    await call(peer, 11);
  } finally {
    peer.socket.destroy();
  }
});
