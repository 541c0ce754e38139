/**
 * Our gRPC client's timers on the in-memory harness and a manual clock: the keepalive ping every
 * pingIntervalMs and its timeout, the unary call's deadline (sent as grpc-timeout, RST_STREAM CANCEL
 * when it passes) and the grace of a graceful close. No sockets, no real time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Deadline } from '../../src/core/deadline.js';
import { ErrorCode, Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { GrpcError, Status } from '../../src/grpc/status.js';
import { expectGrpcError } from '../helpers/h2-fake-server.js';
import { duplexClient, framesBeforePong, goaway, reset } from '../helpers/h2-duplex.js';

const { PING } = FrameType;
const INTERVAL_MS = 30_000;
const PING_TIMEOUT_MS = 20_000;
const keepalive = { pingIntervalMs: INTERVAL_MS, pingTimeoutMs: PING_TIMEOUT_MS };
const ownPing = (f: { type: number; flags: number }): boolean =>
  f.type === PING && (f.flags & Flag.ACK) === 0;

test('client timers: a ping every pingIntervalMs, not 1 ms before', async () => {
  const { session, peer, clock, close } = duplexClient({ keepalive });
  try {
    peer.settings();
    await clock.advance(INTERVAL_MS - 1);
    assert.equal((await framesBeforePong(peer, 'early')).filter(ownPing).length, 0);
    await clock.advance(1);
    const first = await peer.next(ownPing);
    peer.send(PING, Flag.ACK, 0, first.payload);
    await clock.advance(INTERVAL_MS - 1);
    assert.equal((await framesBeforePong(peer, 'between')).filter(ownPing).length, 0);
    await clock.advance(1);
    await peer.next(ownPing);
    session.destroy();
    assert.equal(clock.pending, 0, 'no timer left after destroy');
  } finally {
    close();
  }
});

test('client timers: an unanswered ping ends the connection after pingTimeoutMs; open calls fail UNAVAILABLE', async () => {
  const { session, peer, clock, close } = duplexClient({ keepalive });
  try {
    peer.settings();
    const call = expectGrpcError(
      session.unary('/EPS/Call', Buffer.from('x'), Deadline.after(10 * INTERVAL_MS, clock)),
    );
    await peer.request();
    await clock.advance(INTERVAL_MS);
    await peer.next(ownPing);
    await clock.advance(PING_TIMEOUT_MS - 1);
    await framesBeforePong(peer, 'waiting');
    assert.equal(session.closed, false, 'still open 1 ms before the ping timeout');
    await clock.advance(1);
    const err = await call;
    assert.equal(err.code, Status.UNAVAILABLE);
    assert.match(err.details, /keepalive ping not answered/);
    assert.equal(session.closed, true);
  } finally {
    close();
  }
});

test('client timers: a unary call sends grpc-timeout and fails DEADLINE_EXCEEDED at its deadline, not before', async () => {
  const { session, peer, clock, close } = duplexClient({ keepalive });
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
    await framesBeforePong(peer, 'pending');
    assert.equal(outcome, undefined, 'still waiting 1 ms before the deadline');
    await clock.advance(1);
    assert.equal(await reset(peer, req.streamId), ErrorCode.CANCEL);
    await call;
    const err = outcome as unknown;
    assert.ok(err instanceof GrpcError);
    assert.equal(err.code, Status.DEADLINE_EXCEEDED);
    // The connection itself is unaffected: the next call is answered.
    const next = session.unary('/EPS/Call', Buffer.from('y'), Deadline.after(5000, clock));
    const again = await peer.request();
    peer.answer(again.streamId, Buffer.from('answer'));
    assert.deepEqual(await next, Buffer.from('answer'));
  } finally {
    close();
  }
});

test('client timers: close() sends GOAWAY, lets open calls finish within the grace, then destroys', async () => {
  const { session, peer, clock, close } = duplexClient({ keepalive });
  try {
    peer.settings();
    const finishing = session.unary('/EPS/Call', Buffer.from('x'), Deadline.after(60_000, clock));
    const first = await peer.request();
    const stalled = expectGrpcError(
      session.unary('/EPS/Call', Buffer.from('y'), Deadline.after(60_000, clock)),
    );
    await peer.request();
    session.close();
    assert.equal((await goaway(peer)).code, ErrorCode.NO_ERROR);
    await expectGrpcError(session.unary('/EPS/Call', Buffer.from('late'), Deadline.after(1000, clock)));
    peer.answer(first.streamId, Buffer.from('finished'));
    assert.deepEqual(await finishing, Buffer.from('finished'));
    await clock.advance(1999);
    await framesBeforePong(peer, 'grace');
    await clock.advance(1);
    assert.equal((await stalled).code, Status.UNAVAILABLE);
    await assert.rejects(
      peer.next(() => false),
      /connection closed/,
    );
  } finally {
    close();
  }
});
