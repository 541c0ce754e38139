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
