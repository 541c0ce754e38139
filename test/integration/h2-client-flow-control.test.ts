/**
 * Our HTTP/2 client (src/grpc/h2) against a scripted server on real TLS: flow-control windows (also shrunk
 * below zero), MAX_CONCURRENT_STREAMS, and PINGs answered while a large request fills the socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type tls from 'node:tls';
import { frame } from '../../src/grpc/framing.js';
import { GrpcSession } from '../../src/grpc/client.js';
import { encodeHeaders } from '../../src/grpc/h2/hpack.js';
import { Flag, FrameType, Setting } from '../../src/grpc/h2/codes.js';
import { expectGrpcError, fakeServer } from '../helpers/h2-fake-server.js';
import { waitFor } from '../helpers/wait.js';
import { Deadline } from '../../src/core/deadline.js';

const { DATA, HEADERS, SETTINGS, PING, WINDOW_UPDATE } = FrameType;
const { END_STREAM, END_HEADERS, ACK } = Flag;

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
    assert.equal((await expectGrpcError(a)).code, 5);
    const reqB = await peer.request();
    assert.deepEqual(reqB.body, frame(Buffer.from('b')));
    peer.answer(reqB.streamId, Buffer.from('B'));
    assert.equal((await b).toString(), 'B');
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

test('PINGs while our own large request fills the socket are answered, not taken for a flood', async () => {
  let ourSocket: tls.TLSSocket | undefined;
  const { session, peer, close } = await fakeServer((socket) => {
    ourSocket = socket;
    return new GrpcSession('ls-1', socket);
  });
  try {
    peer.settings([[Setting.INITIAL_WINDOW_SIZE, 8 * 1024 * 1024]]);
    peer.u32(WINDOW_UPDATE, 0, 16 * 1024 * 1024);
    await peer.next((f) => f.type === SETTINGS && (f.flags & ACK) === ACK);
    peer.socket.pause(); // the server reads nothing for now: our 4 MiB request backs up in our socket
    const payload = Buffer.alloc(4 * 1024 * 1024, 9);
    const call = session.unary('/EPS/Call', payload, Deadline.after(20_000));
    await waitFor(() => ourSocket?.writableNeedDrain === true, {
      timeoutMs: 5000,
      what: 'our request to fill the socket',
    });
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
