/**
 * Our gRPC client's timers on a manual clock (real TLS, scripted server): the keepalive ping every
 * pingIntervalMs and the unary call's deadline, which is also sent as grpc-timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type tls from 'node:tls';
import { GrpcSession } from '../../src/grpc/client.js';
import { GrpcError, Status } from '../../src/grpc/status.js';
import { ErrorCode, Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { Deadline } from '../../src/core/deadline.js';
import { fakeServer, type FakePeer } from '../helpers/h2-fake-server.js';
import { ManualClock } from '../helpers/manual-clock.js';

const INTERVAL_MS = 30_000;

function clientOn(clock: ManualClock) {
  return (socket: tls.TLSSocket) =>
    new GrpcSession('ls-1', socket, {
      clock,
      keepalive: { pingIntervalMs: INTERVAL_MS, pingTimeoutMs: 20_000 },
    });
}

/**
 * Pings the client and returns the first PING it sent on its own before the answer (undefined: none):
 * frames arrive in order, so a keepalive ping already sent comes before the answer to ours.
 */
async function ownPing(peer: FakePeer, label: string): Promise<Buffer | undefined> {
  const payload = Buffer.from(label.padEnd(8, '.').slice(0, 8));
  peer.send(FrameType.PING, 0, 0, payload);
  const f = await peer.next(
    (f) => f.type === FrameType.PING && ((f.flags & Flag.ACK) === 0 || f.payload.equals(payload)),
  );
  return (f.flags & Flag.ACK) === 0 ? f.payload : undefined;
}

test('the client pings every pingIntervalMs, not before, and stops when closed', async () => {
  const clock = new ManualClock();
  const { session, peer, close } = await fakeServer(clientOn(clock));
  try {
    peer.settings();
    await clock.advance(INTERVAL_MS - 1);
    assert.equal(await ownPing(peer, 'early'), undefined, 'no ping before the interval');
    await clock.advance(1);
    const first = await peer.next((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) === 0);
    peer.send(FrameType.PING, Flag.ACK, 0, first.payload);
    await clock.advance(INTERVAL_MS - 1);
    assert.equal(await ownPing(peer, 'between'), undefined);
    await clock.advance(1);
    assert.ok(await ownPing(peer, 'second'), 'the second ping, one interval after the first');
    session.destroy();
    assert.equal(clock.pending, 0, 'no keepalive timer left after close');
  } finally {
    await close();
  }
});

test('a unary call fails with DEADLINE_EXCEEDED at its deadline and cancels the stream', async () => {
  const clock = new ManualClock();
  const { session, peer, close } = await fakeServer(clientOn(clock));
  try {
    peer.settings();
    let outcome: unknown;
    const call = session.unary('/EPS/Call', Buffer.from('x'), Deadline.after(5000, clock)).then(
      () => (outcome = 'answered'),
      (e: unknown) => (outcome = e),
    );
    const req = await peer.request();
    assert.equal(req.headers['grpc-timeout'], '5000m');
    await clock.advance(4999);
    await ownPing(peer, 'pending');
    assert.equal(outcome, undefined, 'still waiting 1 ms before the deadline');
    await clock.advance(1);
    const rst = await peer.next((f) => f.type === FrameType.RST_STREAM);
    assert.equal(rst.streamId, req.streamId);
    assert.equal(rst.payload.readUInt32BE(0), ErrorCode.CANCEL);
    await call;
    const err = outcome as unknown;
    assert.ok(err instanceof GrpcError, `expected a GrpcError, got ${String(err)}`);
    assert.equal(err.code, Status.DEADLINE_EXCEEDED);
  } finally {
    await close();
  }
});
