/** Backoff: doubling up to the maximum, jitter bounds, reset, and the wait on a manual clock. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../src/core/backoff.js';
import { ManualClock } from '../helpers/manual-clock.js';

test('delays double from the initial one up to the maximum; reset starts over', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
  assert.deepEqual(
    Array.from({ length: 6 }, () => b.fail()),
    [100, 200, 400, 800, 1000, 1000],
  );
  assert.equal(b.attempts, 6);
  b.reset();
  assert.equal(b.attempts, 0);
  assert.equal(b.fail(), 100);
});

test('jitter makes the given fraction of the delay random', () => {
  let r = 0;
  const b = new Backoff({ initialMs: 1000, maxMs: 10_000, random: () => r });
  assert.equal(b.fail(), 500, 'default jitter 0.5: random 0 waits half');
  r = 0.999_999;
  b.reset();
  assert.ok(Math.abs(b.fail() - 1000) < 0.01, 'random near 1 waits (almost) all of it');
  const quarter = new Backoff({ initialMs: 1000, maxMs: 10_000, jitter: 0.25, random: () => 0 });
  assert.equal(quarter.fail(), 750);
});

test('waitMs counts down on the clock from the last failure', async () => {
  const clock = new ManualClock();
  const b = new Backoff({ initialMs: 250, maxMs: 10_000, jitter: 0, clock });
  assert.equal(b.waitMs(), 0, 'nothing to wait for before a failure');
  b.fail();
  assert.equal(b.waitMs(), 250);
  await clock.advance(200);
  assert.equal(b.waitMs(), 50);
  await clock.advance(100);
  assert.equal(b.waitMs(), 0);
  b.fail();
  assert.equal(b.waitMs(), 500);
  b.reset();
  assert.equal(b.waitMs(), 0);
});

test('sleep resolves after its time on the clock, or at once when woken', async () => {
  const clock = new ManualClock();
  const b = new Backoff({ initialMs: 250, maxMs: 10_000, clock });
  let slept = false;
  void b.sleep(1000).done.then(() => (slept = true));
  await clock.advance(999);
  assert.equal(slept, false);
  await clock.advance(1);
  assert.equal(slept, true);

  let woken = false;
  const nap = b.sleep(60_000);
  void nap.done.then(() => (woken = true));
  nap.wake();
  await clock.advance(0);
  assert.equal(woken, true);
  assert.equal(clock.pending, 0, 'the timer was cleared');
});

test('demand brings the next attempt forward to demandGapMs after the failure, never sooner, and wakes untilDue', async () => {
  const clock = new ManualClock();
  const b = new Backoff({ initialMs: 1000, maxMs: 60_000, jitter: 0, clock, demandGapMs: 300 });
  assert.equal(b.demand(), 0, 'nothing to wait for before a failure');
  for (let i = 0; i < 5; i++) b.fail();
  assert.equal(b.waitMs(), 16_000);
  let due = false;
  void b.untilDue().then(() => (due = true));
  await clock.advance(100);
  assert.equal(b.demand(), 200, 'due 300 ms after the failure, not at once');
  await clock.advance(199);
  assert.equal(due, false);
  await clock.advance(1);
  assert.equal(due, true, 'the sleeping loop was woken for the earlier time');
  assert.equal(clock.pending, 0, 'the long timer was cleared');

  // A demand long after the failure makes the attempt due at once; without demand the backoff holds.
  b.fail();
  assert.equal(b.waitMs(), 32_000);
  await clock.advance(1000);
  assert.equal(b.demand(), 0);
  b.reset();
  assert.equal(b.fail(), 1000, 'a success started over');
});

test('untilDue resolves at once when nothing is due, and on reset', async () => {
  const clock = new ManualClock();
  const b = new Backoff({ initialMs: 500, maxMs: 5000, jitter: 0, clock });
  await b.untilDue();
  b.fail();
  let due = false;
  void b.untilDue().then(() => (due = true));
  await clock.advance(0);
  assert.equal(due, false);
  b.reset();
  await clock.advance(0);
  assert.equal(due, true);
});
