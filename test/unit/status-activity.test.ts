/**
 * Issue 13, the status page's call activity: per-minute counts over a fixed window on a manual clock,
 * the key cap, per-peer figures and the bounded list of last errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../helpers/manual-clock.js';
import { MinuteCounters, MINUTE_MS, OVERFLOW_KEY } from '../../src/metrics/minute-ring.js';
import { CallActivity, MAX_ERRORS } from '../../src/broker/activity.js';

test('minute counters: one bucket per minute, old minutes dropped, keys capped', async () => {
  const clock = new ManualClock(10 * MINUTE_MS);
  const ring = new MinuteCounters(clock, 3, 3);
  ring.add('a ok');
  ring.add('a ok');
  await clock.advance(MINUTE_MS);
  ring.add('b error');
  ring.add('c ok');
  ring.add('d ok');
  let snap = ring.snapshot();
  assert.equal(snap.length, 3);
  assert.deepEqual(snap[0]!.counts, {});
  assert.deepEqual(snap[1]!.counts, { 'a ok': 2 });
  assert.deepEqual(snap[2]!.counts, { 'b error': 1, 'c ok': 1, [OVERFLOW_KEY]: 1 });
  assert.equal(snap[2]!.start, new Date(11 * MINUTE_MS).toISOString());
  await clock.advance(3 * MINUTE_MS);
  snap = ring.snapshot();
  assert.ok(
    snap.every((m) => Object.keys(m.counts).length === 0),
    'everything older than the window is gone',
  );
});

test('call activity: per-peer last call and errors, last errors newest first and bounded', () => {
  const clock = new ManualClock();
  const activity = new CallActivity(clock);
  const started = performance.now();
  activity.delivered('hd-1', { id: 'hd-2._ping(1)', method: 'hd-2._ping' }, 'hd-1', 'ok', started, undefined);
  activity.delivered('hd-1', { id: 'hd-1.x(7)', method: 'hd-1.x' }, 'hd-2', 'error', started, {
    code: 403,
    message: 'Permission denied',
  });
  const out = activity.peer('hd-2')!;
  assert.equal(out.calls, 2);
  assert.equal(out.errors, 1);
  assert.equal(out.last_direction, 'in');
  assert.equal(out.last_error, 'Permission denied');
  assert.deepEqual(
    activity.lastErrors().map((e) => [e.request_id, e.peer, e.direction, e.message]),
    [['hd-1.x(7)', 'hd-2', 'in', 'Permission denied']],
  );
  for (let i = 0; i < MAX_ERRORS + 5; i++) {
    activity.delivered(
      'hd-1',
      { id: `hd-3.m(${i})`, method: 'hd-3.m' },
      'hd-1',
      'failed',
      started,
      new Error(`e${i}`),
    );
  }
  const errors = activity.lastErrors();
  assert.equal(errors.length, MAX_ERRORS);
  assert.equal(errors[0]!.message, `e${MAX_ERRORS + 4}`);
  assert.equal(activity.peer('hd-3')!.last_outcome, 'failed');
  const minute = activity.perMinute().at(-1)!;
  assert.deepEqual(minute.counts, { 'hd-2._ping ok': 1, 'hd-1.x error': 1, 'hd-3.m failed': MAX_ERRORS + 5 });
});

test('peer activity: updated in place, most recent last, an old error kept, times as read', async () => {
  const clock = new ManualClock(Date.UTC(2026, 11, 3, 12, 0, 0));
  const activity = new CallActivity(clock);
  const event = (peer: string, outcome: string) => ({
    direction: 'in' as const,
    peer,
    method: `hd-1.m`,
    outcome,
    latencyMs: 10,
    requestId: `hd-1.m(${peer})`,
    error: outcome === 'error' ? 'boom' : undefined,
  });
  activity.record(event('a', 'error'));
  await clock.advance(1000);
  activity.record(event('b', 'ok'));
  await clock.advance(1000);
  activity.record(event('a', 'ok'));
  activity.record(event('a', 'ok'));
  assert.deepEqual(
    activity.allPeers().map((p) => [p.peer, p.calls, p.errors]),
    [
      ['b', 1, 0],
      ['a', 3, 1],
    ],
  );
  const a = activity.peer('a')!;
  assert.equal(a.last_call, '2026-12-03T12:00:02.000Z');
  assert.equal(a.last_error, 'boom');
  assert.equal(a.last_error_at, '2026-12-03T12:00:00.000Z');
  assert.equal(a.last_outcome, 'ok');
});

test('latency per minute: the average of each method over every outcome, per minute', async () => {
  const clock = new ManualClock(20 * MINUTE_MS);
  const activity = new CallActivity(clock);
  const call = (method: string, outcome: string, latencyMs: number) =>
    activity.record({
      direction: 'out',
      peer: 'hd-2',
      method,
      outcome,
      latencyMs,
      requestId: `${method}(1)`,
    });
  call('hd-2._ping', 'ok', 10);
  call('hd-2._ping', 'error', 30);
  call('hd-2.slow', 'ok', 250.04);
  await clock.advance(MINUTE_MS);
  call('hd-2._ping', 'ok', 4);
  const minutes = activity.latencyPerMinute();
  assert.equal(minutes.length, 15);
  assert.deepEqual(
    minutes.map((m) => m.start),
    activity.perMinute().map((m) => m.start),
  );
  assert.deepEqual(minutes.at(-2)!.avg_ms, { 'hd-2._ping': 20, 'hd-2.slow': 250 });
  assert.deepEqual(minutes.at(-1)!.avg_ms, { 'hd-2._ping': 4 });
  assert.deepEqual(minutes[0]!.avg_ms, {});
});
