/**
 * Safe retries (channels/safe-retry.ts) on a manual clock: the first retry at once, later ones while the
 * call is younger than its wait and its deadline allows, none for a call that asked to fail fast, a pause
 * after a refused stream, and the bound of waiting calls; with the peer pool (grpc/peer-pool.ts), calls
 * waiting for a proxy that is down for 700 ms all get through on the first attempt after its return.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  REFUSED_RETRY_BACKOFF,
  SafeRetry,
  WaitingCalls,
  WaitLimitError,
  type SafeRetryOptions,
} from '../../src/channels/safe-retry.js';
import { Cancellation, CallCancelledError, type CallScope } from '../../src/core/cancellation.js';
import { Deadline } from '../../src/core/deadline.js';
import { PeerPool, RECONNECT_BACKOFF } from '../../src/grpc/peer-pool.js';
import type { DialResult } from '../../src/grpc/dial.js';
import { ManualClock } from '../helpers/manual-clock.js';

const WAIT_MS = 10_000;

/** A Node socket error of the kind "peer unreachable". */
function refusedError(message = 'connect ECONNREFUSED'): Error {
  return Object.assign(new Error(message), { code: 'ECONNREFUSED' });
}

function scopeOn(clock: ManualClock, ms: number, extra: Partial<CallScope> = {}): CallScope {
  return { deadline: Deadline.after(ms, clock), cancellation: new Cancellation(), ...extra };
}

function retryOn(clock: ManualClock, o: Partial<SafeRetryOptions> = {}): SafeRetry {
  return new SafeRetry({
    peer: 'hd-2',
    scope: scopeOn(clock, 30_000),
    waitMs: WAIT_MS,
    waiting: new WaitingCalls(),
    clock,
    random: () => 1,
    ...o,
  });
}

/** Settles `p` with the clock stopped, or says it is still pending. */
async function settled<T>(p: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);
}

test('the first retry is at once; later ones while the call is younger than its wait', async () => {
  const clock = new ManualClock();
  const retry = retryOn(clock);
  const refused = refusedError();
  assert.equal(await retry.again(refused, 'connection'), true);
  await clock.advance(WAIT_MS - 1);
  assert.equal(await retry.again(refused, 'connection'), true, 'still within the wait');
  await clock.advance(1);
  assert.equal(await retry.again(refused, 'connection'), false, 'the wait is over');
  assert.equal(retry.failure(refused), refused, 'ends with the failure itself');
  assert.equal(retry.retried, 2);
  retry.end();
});

test('a call that asked to fail fast (asynchronous, brokering) gets the first retry only', async () => {
  const clock = new ManualClock();
  const retry = retryOn(clock, { scope: scopeOn(clock, 30_000, { failFast: true }) });
  assert.equal(await retry.again(refusedError(), 'connection'), true);
  assert.equal(await retry.again(refusedError(), 'connection'), false);
  retry.end();
});

test('a refused certificate is not waited for: the first retry only', async () => {
  const clock = new ManualClock();
  const retry = retryOn(clock);
  const unpinned = Object.assign(new Error('certificate not pinned'), { failure: 'unauthenticated' });
  assert.equal(await retry.again(unpinned, 'connection'), true);
  assert.equal(await retry.again(unpinned, 'connection'), false);
});

test('a wait of 0 (reconnect_wait: 0) is the single retry of before', async () => {
  const clock = new ManualClock();
  const retry = retryOn(clock, { waitMs: 0 });
  assert.equal(await retry.again(refusedError(), 'connection'), true);
  assert.equal(await retry.again(refusedError(), 'connection'), false);
});

test("the call's deadline and cancellation end the retries, also during a pause", async () => {
  const clock = new ManualClock();
  const expiring = retryOn(clock, { scope: scopeOn(clock, 1000) });
  assert.equal(await expiring.again(refusedError(), 'connection'), true);
  await clock.advance(1000);
  assert.equal(await expiring.again(refusedError(), 'connection'), false);

  const scope = scopeOn(clock, 30_000);
  const cancelled = retryOn(clock, { scope });
  assert.equal(await cancelled.again(refusedError(), 'stream'), true);
  const pausing = cancelled.again(refusedError(), 'stream');
  assert.equal(await settled(pausing), 'pending', 'pauses after a second refused stream');
  scope.cancellation.cancel(new CallCancelledError('the caller left'));
  assert.equal(await pausing, false, 'the pause ends with the call');
  cancelled.end();
});

test('a refused stream on a live connection pauses with the backoff: 100 ms, then doubling', async () => {
  const clock = new ManualClock();
  const retry = retryOn(clock);
  const refused = new Error('REFUSED_STREAM');
  assert.equal(await retry.again(refused, 'stream'), true, 'the first retry at once');
  for (const pause of [REFUSED_RETRY_BACKOFF.initialMs, 2 * REFUSED_RETRY_BACKOFF.initialMs]) {
    const next = retry.again(refused, 'stream');
    await clock.advance(pause - 1);
    assert.equal(await settled(next), 'pending', `not before ${pause} ms`);
    await clock.advance(1);
    assert.equal(await next, true);
  }
  retry.end();
});

test('the number of waiting calls is bounded per peer and in all; the error names the bound', async () => {
  const clock = new ManualClock();
  const waiting = new WaitingCalls(2, 3);
  const calls = ['hd-2', 'hd-2', 'hd-2', 'hd-3', 'hd-4'].map((peer) => retryOn(clock, { peer, waiting }));
  const refused = refusedError();
  const outcomes: boolean[] = [];
  for (const call of calls) {
    await call.again(refused, 'connection'); // the first retry does not wait: not counted
    outcomes.push(await call.again(refused, 'connection'));
  }
  assert.deepEqual(outcomes, [true, true, false, true, false]);
  const perPeer = calls[2]!.failure(refused);
  assert.ok(perPeer instanceof WaitLimitError);
  assert.match(perPeer.message, /ECONNREFUSED; not waiting for hd-2 .*2 calls already wait.*PER_PEER/);
  assert.equal(perPeer.failure, 'peerUnreachable');
  assert.match(String(calls[4]!.failure(refused)), /3 calls already wait for peers \(MAX_WAITING_CALLS\)/);
  assert.equal(waiting.waiting(), 3);
  for (const call of calls) call.end();
  assert.equal(waiting.waiting(), 0, 'every call that ended left');
  assert.equal(waiting.waiting('hd-2'), 0);
});

test('calls waiting for a proxy that is down 700 ms all get through on the first attempt after its return', async () => {
  const clock = new ManualClock();
  const pool = new PeerPool(clock);
  const waiting = new WaitingCalls();
  const backAt = clock.now() + 700;
  let attempts = 0;
  const connected = new Error('connected'); // stands for a tunnel made: the attempt is what is counted
  const broker = async (): Promise<DialResult> => {
    attempts++;
    throw clock.now() >= backAt ? connected : refusedError('connect ECONNREFUSED (no proxy listens)');
  };
  /** The connection part of a call as grpc-client.ts runs it: the time it got through, or its failure. */
  const call = async (): Promise<number | string> => {
    const retry = retryOn(clock, { waiting });
    try {
      for (;;) {
        try {
          await pool.get('hd-2', 'proxy:public-proxy-1', broker, Deadline.after(30_000, clock));
        } catch (e) {
          if (e === connected) return clock.now() - backAt;
          if (await retry.again(e, 'connection')) continue;
          return String(retry.failure(e));
        }
      }
    } finally {
      retry.end();
    }
  };
  const calls = Array.from({ length: 8 }, call);
  await clock.advance(700 + RECONNECT_BACKOFF.demandGapMs);
  const results = await Promise.all(calls);
  for (const r of results) {
    assert.equal(typeof r, 'number', `a call failed: ${r}`);
    assert.ok((r as number) <= RECONNECT_BACKOFF.demandGapMs, `through ${r} ms after the return`);
  }
  // Paced by the pool: at most one attempt per demand gap (and the first ones sooner), shared by all.
  assert.ok(attempts <= 2 + 700 / RECONNECT_BACKOFF.demandGapMs + 2, `${attempts} attempts`);
  assert.equal(waiting.waiting(), 0);
});
