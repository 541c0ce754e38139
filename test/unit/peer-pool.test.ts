/** PeerPool's reconnect backoff on a manual clock: a failed dial delays the next one, within the deadline. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerPool, RECONNECT_BACKOFF } from '../../src/grpc/peer-pool.js';
import type { DialResult } from '../../src/grpc/dial.js';
import { Deadline } from '../../src/core/deadline.js';
import { ManualClock } from '../helpers/manual-clock.js';

test('after a failed dial the next one waits for the backoff, or fails at once if the deadline is sooner', async () => {
  const clock = new ManualClock();
  const pool = new PeerPool(clock);
  const { initialMs } = RECONNECT_BACKOFF;
  let dials = 0;
  const refuse = async (): Promise<DialResult> => {
    dials++;
    throw new Error(`connection refused ${dials}`);
  };
  await assert.rejects(pool.get('op-1', 'direct:a', refuse, Deadline.after(5000, clock)), /refused 1/);

  // The first backoff is between half and all of initialMs: a deadline sooner than that fails at once.
  await assert.rejects(
    pool.get('op-1', 'direct:a', refuse, Deadline.after(initialMs / 2, clock)),
    /unreachable, next attempt in/,
  );
  assert.equal(dials, 1, 'no dial while backing off');

  // A call with time left waits for the backoff on the clock, then dials.
  const waiting = assert.rejects(
    pool.get('op-1', 'direct:a', refuse, Deadline.after(5000, clock)),
    /refused 2/,
  );
  await clock.advance(initialMs / 2 - 1);
  assert.equal(dials, 1, 'not before the backoff');
  await clock.advance(initialMs / 2 + 1);
  await waiting;

  // The second failure doubled the backoff (at most 2 x initialMs); once it has passed, even a call
  // with 1 ms left dials: the call that failed fast earlier left nothing behind that blocks it.
  await clock.advance(2 * initialMs);
  await assert.rejects(pool.get('op-1', 'direct:a', refuse, Deadline.after(1, clock)), /refused 3/);
});

test('a call waiting for a peer brings the reconnect forward (wake on demand), one dial per gap however many wait', async () => {
  const clock = new ManualClock();
  const pool = new PeerPool(clock);
  const { demandGapMs, maxMs } = RECONNECT_BACKOFF;
  let dials = 0;
  let up = false;
  const dial = async (): Promise<DialResult> => {
    dials++;
    if (!up) throw new Error(`connection refused ${dials}`);
    throw new Error('listening again'); // stands for a successful dial: the attempt is what is counted
  };
  // Fail the peer often enough that its plain backoff is far beyond the gap.
  for (let i = 0; i < 12; i++) {
    const failed = assert.rejects(pool.get('op-1', 'direct:a', dial, Deadline.after(maxMs * 2, clock)));
    await clock.advance(maxMs);
    await failed;
  }
  assert.equal(dials, 12);
  // Long after the last failure a call dials at once (and fails again, now).
  const last = assert.rejects(pool.get('op-1', 'direct:a', dial, Deadline.after(5000, clock)));
  await clock.advance(0);
  await last;
  assert.equal(dials, 13);

  // Ten calls at once, right after a failure: one dial, demandGapMs after that failure, not the backoff.
  up = true;
  const calls = Array.from({ length: 10 }, () =>
    pool.get('op-1', 'direct:a', dial, Deadline.after(5000, clock)).catch((e: Error) => e.message),
  );
  await clock.advance(demandGapMs - 1);
  assert.equal(dials, 13, 'not before the gap');
  await clock.advance(1);
  const results = await Promise.all(calls);
  assert.equal(dials, 14, 'one dial for all waiting calls');
  assert.ok(results.every((r) => r === 'listening again'));
});
