/** Deadline: remaining time, expiry, the earlier of two, and its timer hooks, on a manual clock. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Deadline } from '../../src/core/deadline.js';
import { MAX_TIMER_MS } from '../../src/core/clock.js';
import { ManualClock } from '../helpers/manual-clock.js';

test('remaining time counts down to 0 and the deadline then is expired', async () => {
  const clock = new ManualClock();
  const d = Deadline.after(1000, clock);
  assert.equal(d.remainingMs(), 1000);
  assert.equal(d.expired, false);
  await clock.advance(999);
  assert.equal(d.remainingMs(), 1);
  await clock.advance(1);
  assert.equal(d.remainingMs(), 0);
  assert.equal(d.expired, true);
  await clock.advance(5000);
  assert.equal(d.remainingMs(), 0, 'never negative');
});

test('earlier() and within() pick the earlier deadline without creating one when not needed', () => {
  const clock = new ManualClock();
  const soon = Deadline.after(100, clock);
  const late = Deadline.after(5000, clock);
  assert.equal(soon.earlier(late), soon);
  assert.equal(late.earlier(soon), soon);
  assert.equal(late.earlier(undefined), late);
  assert.equal(soon.within(1000), soon);
  assert.equal(late.within(1000).remainingMs(), 1000);
  assert.equal(Deadline.at(clock.now() + 7, clock).remainingMs(), 7);
});

test('onExpire fires once at the deadline and not when cancelled', async () => {
  const clock = new ManualClock();
  const d = Deadline.after(300, clock);
  let fired = 0;
  d.onExpire(() => fired++);
  const cancelled = d.onExpire(() => fired++);
  d.cancelExpire(cancelled);
  await clock.advance(299);
  assert.equal(fired, 0);
  await clock.advance(1);
  assert.equal(fired, 1);
  await clock.advance(1000);
  assert.equal(fired, 1);
});

test('an already passed deadline fires at once; one beyond the longest timer schedules nothing', async () => {
  const clock = new ManualClock();
  const past = Deadline.at(clock.now() - 10, clock);
  let fired = false;
  past.onExpire(() => (fired = true));
  await clock.advance(0);
  assert.equal(fired, true);
  assert.equal(
    Deadline.after(MAX_TIMER_MS + 1, clock).onExpire(() => undefined),
    undefined,
  );
  assert.equal(clock.pending, 0);
});

test('signal() aborts with a TimeoutError at the deadline', async () => {
  const clock = new ManualClock();
  const signal = Deadline.after(50, clock).signal();
  assert.equal(signal.aborted, false);
  await clock.advance(50);
  assert.equal(signal.aborted, true);
  assert.equal((signal.reason as DOMException).name, 'TimeoutError');
});
