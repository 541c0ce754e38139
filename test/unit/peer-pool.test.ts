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
  let dials = 0;
  const refuse = async (): Promise<DialResult> => {
    dials++;
    throw new Error('connection refused');
  };
  await assert.rejects(pool.get('op-1', 'direct:a', refuse, Deadline.after(5000, clock)), /refused/);
  assert.equal(dials, 1);

  // The first backoff is between half and all of initialMs: a deadline shorter than that fails at once.
  await assert.rejects(
    pool.get('op-1', 'direct:a', refuse, Deadline.after(RECONNECT_BACKOFF.initialMs / 2, clock)),
    /unreachable, next attempt in/,
  );
  assert.equal(dials, 1, 'no dial while backing off');

  // That refusal counted as a failure too (as before the Backoff helper): the backoff is now between
  // initialMs and twice it. A call with time left waits for it on the clock, then dials.
  const waiting = pool.get('op-1', 'direct:a', refuse, Deadline.after(5000, clock));
  await clock.advance(RECONNECT_BACKOFF.initialMs - 1);
  assert.equal(dials, 1, 'not before the backoff');
  await clock.advance(RECONNECT_BACKOFF.initialMs + 1);
  await assert.rejects(waiting, /refused/);
  assert.equal(dials, 2);
});
