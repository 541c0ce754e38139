/** The call scope's parts (core/cancellation.ts): cancellation once, listeners removable, watchScope. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CallCancelledError,
  Cancellation,
  DeadlineExceededError,
  untilScopeEnds,
  watchScope,
} from '../../src/core/cancellation.js';
import { classify } from '../../src/core/outcome.js';
import { Deadline } from '../../src/core/deadline.js';
import { ManualClock } from '../helpers/manual-clock.js';

test('cancels once, with the first reason; listeners run once; a removed listener does not run', () => {
  const c = new Cancellation();
  const seen: string[] = [];
  c.onCancel((r) => seen.push(`a:${r.message}`));
  const remove = c.onCancel((r) => seen.push(`b:${r.message}`));
  remove();
  c.cancel(new Error('first'));
  c.cancel(new Error('second'));
  assert.deepEqual(seen, ['a:first']);
  assert.equal(c.reason?.message, 'first');
  // Subscribing after the fact runs at once.
  c.onCancel((r) => seen.push(`late:${r.message}`));
  assert.deepEqual(seen, ['a:first', 'late:first']);
});

test('signal() aborts with the reason', () => {
  const c = new Cancellation();
  const signal = c.signal();
  assert.equal(signal.aborted, false);
  const reason = new CallCancelledError('gone');
  c.cancel(reason);
  assert.equal(signal.aborted, true);
  assert.equal(signal.reason, reason);
});

test('watchScope: the deadline ends the call at its time with the hop named; stop() ends watching', async () => {
  const clock = new ManualClock();
  const ended: Error[] = [];
  const scope = { deadline: Deadline.after(1000, clock), cancellation: new Cancellation() };
  watchScope(scope, 'the gateway of hd-1', (r) => ended.push(r));
  await clock.advance(999);
  assert.equal(ended.length, 0);
  await clock.advance(1);
  assert.ok(ended[0] instanceof DeadlineExceededError);
  assert.equal(ended[0].hop, 'the gateway of hd-1');
  assert.equal(classify(ended[0]), 'deadlineExceeded');

  const other = { deadline: Deadline.after(1000, clock), cancellation: new Cancellation() };
  const stop = watchScope(other, 'x', (r) => ended.push(r));
  stop();
  other.cancellation.cancel(new CallCancelledError('gone'));
  await clock.advance(2000);
  assert.equal(ended.length, 1, 'neither the cancel nor the deadline reached a stopped watch');
  assert.equal(clock.pending, 0, 'no timer left behind');
});

test('an unbounded deadline never expires and schedules nothing; within() bounds it', async () => {
  const clock = new ManualClock();
  const never = Deadline.unbounded(clock);
  assert.equal(never.remainingMs(), Infinity);
  assert.equal(
    never.onExpire(() => assert.fail('must not fire')),
    undefined,
  );
  await clock.advance(10 * 365 * 24 * 3_600_000);
  assert.equal(never.expired, false);
  assert.equal(never.within(5000).remainingMs(), 5000);
  assert.equal(classify(new CallCancelledError('gone')), 'cancelled');
});

test('untilScopeEnds: the caller stops waiting at its deadline; the shared work goes on and settles', async () => {
  const clock = new ManualClock();
  let finish!: (v: string) => void;
  const work = new Promise<string>((resolve) => (finish = resolve));
  const scope = { deadline: Deadline.after(1000, clock), cancellation: new Cancellation() };
  const waiting = untilScopeEnds(work, scope, 'the connection from hd-1 to hd-2');
  const failed = waiting.catch((e: unknown) => e);
  await clock.advance(1000);
  const err = await failed;
  assert.ok(err instanceof DeadlineExceededError);
  assert.equal(err.hop, 'the connection from hd-1 to hd-2');
  finish('connected');
  assert.equal(await work, 'connected', 'the work itself was not cancelled');
  // A later caller gets the result.
  const later = { deadline: Deadline.after(1000, clock), cancellation: new Cancellation() };
  assert.equal(await untilScopeEnds(work, later, 'x'), 'connected');
  assert.equal(clock.pending, 0);
});
