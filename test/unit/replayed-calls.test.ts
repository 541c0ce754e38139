/**
 * How the gRPC server channel serves remembered calls (channels/replayed-calls.ts) on a manual clock: a
 * call whose connection is lost keeps running (its retry may collect the answer) until its deadline, at
 * most REPLAY_WINDOW_MS after its arrival, and only up to MAX_DETACHED_CALLS such calls; a reset by the caller
 * or a call without a deadline stops at once, as before; calls without a token are not remembered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_DETACHED_CALLS, ReplayedCalls } from '../../src/channels/replayed-calls.js';
import { REPLAY_WINDOW_MS, ReplayMemory } from '../../src/channels/replay-memory.js';
import { CallCancelledError, Cancellation, type CallScope } from '../../src/core/cancellation.js';
import { Deadline } from '../../src/core/deadline.js';
import type { CallContext } from '../../src/grpc/server.js';
import type { PinnedPeer } from '../../src/tls/pinned-peer.js';
import { ManualClock } from '../helpers/manual-clock.js';

let tokens = 0;

function context(clock: ManualClock, deadlineMs: number, token: string | null = `t${tokens++}`): CallContext {
  return {
    peer: {} as PinnedPeer,
    current: () => undefined,
    deadline: deadlineMs === Infinity ? Deadline.unbounded(clock) : Deadline.after(deadlineMs, clock),
    cancellation: new Cancellation(),
    headers: token === null ? {} : { 'eps-call-token': token },
    connectionLost: false,
  };
}

/** Serves one call whose work only ends when its scope is cancelled; returns that scope. */
function serveHanging(
  calls: ReplayedCalls,
  ctx: CallContext,
): { scope: Promise<CallScope>; done: Promise<unknown> } {
  let scoped!: (s: CallScope) => void;
  const scope = new Promise<CallScope>((r) => (scoped = r));
  const done = calls
    .serve('hd-1', 'id', ctx, (s) => {
      scoped(s);
      return new Promise((_, reject) => s.cancellation.onCancel(reject));
    })
    .catch((e: unknown) => e);
  return { scope, done };
}

function loseConnection(ctx: CallContext): void {
  ctx.connectionLost = true;
  ctx.cancellation.cancel(new CallCancelledError('the caller left: connection lost'));
}

test('a remembered call runs on after its connection is lost, until REPLAY_WINDOW_MS or its deadline', async () => {
  const clock = new ManualClock();
  const calls = new ReplayedCalls('the gRPC server of ls-1');
  const long = context(clock, 10 * REPLAY_WINDOW_MS);
  const short = context(clock, 5_000);
  const a = serveHanging(calls, long);
  const b = serveHanging(calls, short);
  const [scopeA, scopeB] = await Promise.all([a.scope, b.scope]);
  loseConnection(long);
  loseConnection(short);
  assert.equal(scopeA.cancellation.cancelled, false, 'not cancelled by the connection loss');
  assert.equal(calls.detached.count, 2);
  await clock.advance(5_000);
  assert.equal(scopeB.cancellation.cancelled, true, 'ends at its deadline');
  await clock.advance(REPLAY_WINDOW_MS - 5_000);
  assert.equal(scopeA.cancellation.cancelled, true, 'ends REPLAY_WINDOW_MS after its arrival');
  await Promise.all([a.done, b.done]);
  assert.equal(calls.detached.count, 0);
});

test('a reset by the caller, a call without a deadline, and calls beyond MAX_DETACHED_CALLS stop at once', async () => {
  const clock = new ManualClock();
  const calls = new ReplayedCalls('the gRPC server of ls-1');
  const reset = context(clock, 60_000);
  const r = serveHanging(calls, reset);
  reset.cancellation.cancel(new CallCancelledError('RST_STREAM CANCEL'));
  assert.equal((await r.scope).cancellation.cancelled, true);
  const unbounded = context(clock, Infinity);
  const u = serveHanging(calls, unbounded);
  loseConnection(unbounded);
  assert.equal((await u.scope).cancellation.cancelled, true);
  calls.detached.count = MAX_DETACHED_CALLS;
  const over = context(clock, 60_000);
  const o = serveHanging(calls, over);
  loseConnection(over);
  assert.equal((await o.scope).cancellation.cancelled, true);
  await Promise.all([r.done, u.done, o.done]);
  calls.detached.count = 0;
});

test('a call without a token is not remembered; with one, a second arrival gets the first answer', async () => {
  const clock = new ManualClock();
  const calls = new ReplayedCalls('the gRPC server of ls-1');
  let runs = 0;
  const run = (): Promise<Uint8Array> => Promise.resolve(new Uint8Array([++runs]));
  await calls.serve('hd-1', 'a', context(clock, 1000, null), run);
  await calls.serve('hd-1', 'a', context(clock, 1000, null), run);
  assert.equal(calls.memory.size.entries, 0);
  assert.deepEqual(await calls.serve('hd-1', 'b', context(clock, 1000, 'same'), run), new Uint8Array([3]));
  assert.deepEqual(await calls.serve('hd-1', 'b', context(clock, 1000, 'same'), run), new Uint8Array([3]));
  assert.equal(runs, 3);
});

test('a failure of the replay memory while keeping an answer never replaces the answer of a call that ran', async () => {
  const clock = new ManualClock();
  class FailingMemory extends ReplayMemory {
    override settle(): void {
      throw new TypeError('broken accounting');
    }
  }
  const calls = new ReplayedCalls('the gRPC server of ls-1', new FailingMemory(clock));
  const answer = await calls.serve('hd-1', 'a', context(clock, 1000), () =>
    Promise.resolve(new Uint8Array([7])),
  );
  assert.deepEqual(answer, new Uint8Array([7]));
  const failure = new Error('the work failed');
  const failed = calls.serve('hd-1', 'b', context(clock, 1000), () => Promise.reject(failure));
  await assert.rejects(failed, (e) => e === failure);
});

test('a call whose connection is lost late in its window runs on only until REPLAY_WINDOW_MS after its arrival', async () => {
  const clock = new ManualClock();
  const calls = new ReplayedCalls('the gRPC server of ls-1');
  const ctx = context(clock, 10 * REPLAY_WINDOW_MS);
  const call = serveHanging(calls, ctx);
  const scope = await call.scope;
  await clock.advance(REPLAY_WINDOW_MS - 1_000);
  loseConnection(ctx);
  assert.equal(scope.cancellation.cancelled, false, 'not cancelled by the connection loss');
  await clock.advance(1_000);
  assert.equal(scope.cancellation.cancelled, true, 'the memory forgot it: no retry can collect its answer');
  await call.done;
  assert.equal(calls.detached.count, 0);
});
