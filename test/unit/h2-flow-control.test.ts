import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AbuseGuards } from '../../src/grpc/h2/abuse-guards.js';
import { ConnectionError } from '../../src/grpc/h2/errors.js';
import { ErrorCode } from '../../src/grpc/h2/codes.js';
import { DEFAULT_WINDOW, MAX_WINDOW } from '../../src/grpc/h2/frames.js';
import { FlowWindow } from '../../src/grpc/h2/flow-control.js';
import { MAX_PENDING_REPLY_BYTES, RESET_BURST, RESET_REFILL_PER_SECOND } from '../../src/grpc/h2/limits.js';

test('receiving: credit goes back only as data is released, batched once half the window is released', () => {
  const flow = new FlowWindow(1000);
  assert.equal(flow.receive(1000), true);
  assert.equal(flow.held, 1000);
  assert.equal(flow.takeUpdate(), 0, 'nothing consumed: nothing to grant, however much arrived');
  assert.equal(flow.receive(1), false, 'a reader that stops reading leaves the sender no window');
});

test('receiving: a WINDOW_UPDATE is due once half the window is released, and grants exactly that', () => {
  const flow = new FlowWindow(1000);
  assert.equal(flow.receive(800), true);
  flow.release(499);
  assert.equal(flow.takeUpdate(), 0, 'less than half released: no WINDOW_UPDATE yet (batched)');
  flow.release(1);
  assert.equal(flow.takeUpdate(), 500);
  assert.equal(flow.takeUpdate(), 0, 'granted once');
  assert.equal(flow.held, 300, 'the unreleased rest still holds the window');
  assert.equal(flow.receive(700), true, 'the window is what was granted back, not more');
  assert.equal(flow.receive(1), false, 'one byte over the window');
});

test('sending: starts at the protocol default, follows credits, may go negative, overflows above 2^31-1', () => {
  const flow = new FlowWindow(1000);
  assert.equal(flow.sendable, DEFAULT_WINDOW);
  flow.consumeSend(DEFAULT_WINDOW);
  assert.equal(flow.creditSend(-100), true, 'a smaller initial window (SETTINGS) may make it negative');
  assert.equal(flow.sendable, -100);
  assert.equal(flow.creditSend(MAX_WINDOW + 100), true);
  assert.equal(flow.sendable, MAX_WINDOW);
  assert.equal(flow.creditSend(1), false);
});

function calm(what: string): (e: unknown) => boolean {
  return (e) => e instanceof ConnectionError && e.code === ErrorCode.ENHANCE_YOUR_CALM && e.message === what;
}

test('resets: a burst up to the limit, then only the refill rate of the clock', () => {
  const clock = { time: 5_000_999, now: (): number => clock.time };
  const guards = new AbuseGuards(clock);
  const tooMany = calm('too many stream resets per second');
  for (let i = 0; i < RESET_BURST; i++) guards.countReset('stream resets');
  assert.throws(() => guards.countReset('stream resets'), tooMany, 'the burst is spent');
  clock.time += 1; // a new calendar second no longer starts a new allowance
  assert.throws(() => guards.countReset('stream resets'), tooMany);
  clock.time += 1000;
  for (let i = 0; i < RESET_REFILL_PER_SECOND; i++) guards.countReset('stream resets');
  assert.throws(
    () => guards.countReset('stream resets'),
    tooMany,
    'one second refills RESET_REFILL_PER_SECOND',
  );
});

test('resets: a steady rate below the refill never ends the connection, even after the burst is spent', () => {
  const clock = { time: 5_000_000, now: (): number => clock.time };
  const guards = new AbuseGuards(clock);
  for (let i = 0; i < RESET_BURST; i++) guards.countReset('stream resets');
  const steady = RESET_REFILL_PER_SECOND - 1;
  for (let second = 0; second < 3600; second++) {
    clock.time += 1000;
    for (let i = 0; i < steady; i++) guards.countReset('stream resets');
  }
  // An idle peer gets its burst back, and no more.
  clock.time += 3_600_000;
  for (let i = 0; i < RESET_BURST; i++) guards.countReset('stream resets');
  assert.throws(() => guards.countReset('stream resets'), calm('too many stream resets per second'));
});

test('ping policy: strikes for PINGs too close together, forgiven when we send stream frames', () => {
  const clock = { time: 1_000_000, now: (): number => clock.time };
  const guards = new AbuseGuards(clock, { minIntervalMs: 100, maxStrikes: 1 });
  guards.countPing();
  clock.time += 50;
  guards.countPing(); // strike 1
  guards.sentStreamFrames = true; // we answered a call in between: the count starts again
  guards.countPing();
  clock.time += 50;
  guards.countPing(); // strike 1 again
  clock.time += 10;
  assert.throws(() => guards.countPing(), calm('too_many_pings'));
  assert.doesNotThrow(() => new AbuseGuards(clock).countPing(), 'no policy, no limit');
});

test('unread replies end the connection only while the socket is backed up', () => {
  const guards = new AbuseGuards();
  assert.doesNotThrow(() => guards.checkUnreadReplies(MAX_PENDING_REPLY_BYTES + 1, false));
  assert.doesNotThrow(() => guards.checkUnreadReplies(MAX_PENDING_REPLY_BYTES, true));
  assert.throws(
    () => guards.checkUnreadReplies(MAX_PENDING_REPLY_BYTES + 1, true),
    calm('peer does not read what it asks for'),
  );
});
