/**
 * grpc-timeout and cancellation on our gRPC server and client (real TLS sockets, a manual clock on the
 * server): the server answers DEADLINE_EXCEEDED when the caller's grpc-timeout passes and cancels the
 * handler's work; a client RST_STREAM cancels it too; the client sends the time left as grpc-timeout and
 * resets the stream with CANCEL when its caller gives up.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { frame } from '../../src/grpc/framing.js';
import { ErrorCode, FrameType, Flag } from '../../src/grpc/h2/codes.js';
import type { CallContext } from '../../src/grpc/server.js';
import { Status } from '../../src/grpc/status.js';
import { Deadline } from '../../src/core/deadline.js';
import { CallCancelledError, Cancellation, DeadlineExceededError } from '../../src/core/cancellation.js';
import { ls1Server } from '../helpers/grpc-local.js';
import { expectGrpcError, fakeClient, fakeServer, type FakePeer } from '../helpers/h2-fake-server.js';
import { grpcRequest } from '../helpers/h2-grpc-server.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { withDeadline } from '../helpers/wait.js';

/** The contexts of the calls the handler got; its answers never come (a backend that hangs). */
interface Hanging {
  calls: CallContext[];
  /** Resolves with the reason once the n-th call's work is cancelled. */
  cancelled(n: number): Promise<Error>;
}

const HOUR_MS = 3_600_000;
let clock: ManualClock;

async function serveHanging(t: TestContext): Promise<{ port: number; handler: Hanging }> {
  clock = new ManualClock();
  const calls: CallContext[] = [];
  const server = ls1Server({
    handlers: {
      unary: {
        '/EPS/Call': (_payload, ctx) => {
          calls.push(ctx);
          return new Promise<Uint8Array>(() => undefined);
        },
      },
      bidi: {},
    },
    clock,
    // Connection timers out of the way: the fake client answers no keepalive PING.
    keepalive: { pingAfterSilenceMs: 10 * HOUR_MS, maxAgeMs: 100 * HOUR_MS },
    label: 'the gRPC server of ls-1',
  });
  const port = (await server.listen('127.0.0.1:0')).port;
  t.after(() => server.close());
  const handler: Hanging = {
    calls,
    cancelled: (n) =>
      withDeadline(new Promise<Error>((resolve) => calls[n]!.cancellation.onCancel(resolve)), {
        timeoutMs: 5000,
        what: `the cancellation of call ${n}`,
      }),
  };
  return { port, handler };
}

async function connect(port: number): Promise<FakePeer> {
  const peer = await fakeClient(port);
  peer.settings();
  await peer.next((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0);
  peer.send(FrameType.SETTINGS, Flag.ACK, 0);
  return peer;
}

/** Sends a complete unary request and waits until the handler has it. */
async function call(peer: FakePeer, handler: Hanging, id: number, extra: [string, string][]) {
  const before = handler.calls.length;
  peer.send(FrameType.HEADERS, Flag.END_HEADERS, id, grpcRequest('/EPS/Call', extra));
  peer.send(FrameType.DATA, Flag.END_STREAM, id, frame(Buffer.from('work')));
  // The PING's answer comes after the server has read the request, so the handler has it then.
  const payload = Buffer.from(`call${id}`.padEnd(8, '.').slice(0, 8));
  peer.send(FrameType.PING, 0, 0, payload);
  await peer.next((f) => f.type === FrameType.PING && f.payload.equals(payload));
  assert.equal(handler.calls.length, before + 1, 'the handler got the call');
}

/** Whether the server sent anything on `streamId` before answering a PING sent now. */
async function quiet(peer: FakePeer, streamId: number): Promise<boolean> {
  const payload = Buffer.from('quiet...');
  peer.send(FrameType.PING, 0, 0, payload);
  const f = await peer.next(
    (f) => f.streamId === streamId || (f.type === FrameType.PING && f.payload.equals(payload)),
  );
  return f.type === FrameType.PING;
}

test('grpc-timeout 2S: DEADLINE_EXCEEDED at 2 s, not before, and the handler is cancelled', async (t) => {
  const { port, handler } = await serveHanging(t);
  const peer = await connect(port);
  try {
    await call(peer, handler, 1, [['grpc-timeout', '2S']]);
    assert.equal(handler.calls[0]!.deadline.remainingMs(), 2000);
    await clock.advance(1999);
    assert.ok(await quiet(peer, 1), 'no answer before the deadline');
    assert.equal(handler.calls[0]!.cancellation.cancelled, false);
    await clock.advance(1);
    const answer = await peer.response(1);
    assert.equal(answer.headers['grpc-status'], String(Status.DEADLINE_EXCEEDED));
    assert.match(
      decodeURIComponent(answer.headers['grpc-message'] ?? ''),
      /deadline exceeded at the gRPC server of ls-1/,
    );
    const reason = await handler.cancelled(0);
    assert.ok(reason instanceof DeadlineExceededError, String(reason));
  } finally {
    peer.socket.destroy();
  }
});

test('grpc-timeout in other units (100m, 1M) is enforced the same way', async (t) => {
  const { port, handler } = await serveHanging(t);
  const peer = await connect(port);
  try {
    await call(peer, handler, 1, [['grpc-timeout', '100m']]);
    await call(peer, handler, 3, [['grpc-timeout', '1M']]);
    await clock.advance(100);
    assert.equal((await peer.response(1)).headers['grpc-status'], String(Status.DEADLINE_EXCEEDED));
    await clock.advance(60_000 - 101);
    assert.ok(await quiet(peer, 3), 'the minute is not over yet');
    await clock.advance(1);
    assert.equal((await peer.response(3)).headers['grpc-status'], String(Status.DEADLINE_EXCEEDED));
  } finally {
    peer.socket.destroy();
  }
});

test('without grpc-timeout the call has no deadline of its own (as the original)', async (t) => {
  const { port, handler } = await serveHanging(t);
  const peer = await connect(port);
  try {
    await call(peer, handler, 1, []);
    assert.equal(handler.calls[0]!.deadline.remainingMs(), Infinity);
    await clock.advance(HOUR_MS);
    assert.ok(await quiet(peer, 1), 'still waiting for the handler after an hour');
    assert.equal(handler.calls[0]!.cancellation.cancelled, false);
  } finally {
    peer.socket.destroy();
  }
});

test("the client's RST_STREAM CANCEL cancels the handler's work; other calls go on", async (t) => {
  const { port, handler } = await serveHanging(t);
  const peer = await connect(port);
  try {
    await call(peer, handler, 1, [['grpc-timeout', '30S']]);
    await call(peer, handler, 3, [['grpc-timeout', '30S']]);
    peer.u32(FrameType.RST_STREAM, 1, ErrorCode.CANCEL);
    const reason = await handler.cancelled(0);
    assert.ok(reason instanceof CallCancelledError, String(reason));
    assert.equal(handler.calls[1]!.cancellation.cancelled, false, 'the other call is not affected');
    assert.ok(await quiet(peer, 3));
  } finally {
    peer.socket.destroy();
  }
});

test('a lost connection cancels the work of every call on it', async (t) => {
  const { port, handler } = await serveHanging(t);
  const peer = await connect(port);
  await call(peer, handler, 1, []);
  await call(peer, handler, 3, []);
  peer.socket.destroy();
  assert.ok((await handler.cancelled(0)) instanceof CallCancelledError);
  assert.ok((await handler.cancelled(1)) instanceof CallCancelledError);
});

test('the client sends the time left as grpc-timeout', async () => {
  const { session, peer, close } = await fakeServer();
  try {
    const clientClock = new ManualClock();
    const deadline = Deadline.after(1500, clientClock);
    await clientClock.advance(500);
    const pending = session.unary('/EPS/Call', Buffer.from('x'), deadline);
    pending.catch(() => undefined);
    const request = await peer.request();
    assert.equal(request.headers['grpc-timeout'], '1000m');
  } finally {
    await close();
  }
});

test('a cancelled caller resets the stream with CANCEL; the call fails CANCELLED or DEADLINE_EXCEEDED', async () => {
  const { session, peer, close } = await fakeServer();
  try {
    peer.settings();
    const cancellation = new Cancellation();
    const call = expectGrpcError(
      session.unary('/EPS/Call', Buffer.from('x'), Deadline.after(60_000), cancellation),
    );
    const request = await peer.request();
    cancellation.cancel(new CallCancelledError('the caller of the gateway of hd-1 disconnected'));
    const reset = await peer.next((f) => f.type === FrameType.RST_STREAM);
    assert.equal(reset.streamId, request.streamId);
    assert.equal(reset.payload.readUInt32BE(0), ErrorCode.CANCEL);
    const err = await call;
    assert.equal(err.code, Status.CANCELLED);
    assert.match(err.message, /disconnected/);

    // A scope ended by its deadline upstream (the gateway's) ends the call as DEADLINE_EXCEEDED.
    const expired = new Cancellation();
    const second = expectGrpcError(
      session.unary('/EPS/Call', Buffer.from('y'), Deadline.after(60_000), expired),
    );
    await peer.request();
    expired.cancel(new DeadlineExceededError('the gateway of hd-1'));
    assert.equal((await second).code, Status.DEADLINE_EXCEEDED);
    // Already cancelled: nothing is sent at all.
    const third = session.unary('/EPS/Call', Buffer.from('z'), Deadline.after(60_000), cancellation);
    assert.equal((await expectGrpcError(third)).code, Status.CANCELLED);
  } finally {
    await close();
  }
});
