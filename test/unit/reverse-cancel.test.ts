/**
 * The accepting side of a reverse stream gives up on a request at the caller's deadline or when the caller
 * leaves (core/cancellation.ts), keeps the request's slot so the order of answers holds, and sends a
 * cancel notice only to a dialling side that announced it understands one (the original's never gets one).
 * A scripted stream on a manual clock: no sockets, no waiting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReverseStreamRegistry } from '../../src/channels/reverse/accepting-side.js';
import { Deadline } from '../../src/core/deadline.js';
import {
  CallCancelledError,
  Cancellation,
  DeadlineExceededError,
  type CallScope,
} from '../../src/core/cancellation.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { ScriptedStream, scriptedContext } from '../helpers/scripted-reverse-stream.js';

function open(features?: string[]): { registry: ReverseStreamRegistry; stream: ScriptedStream } {
  const registry = new ReverseStreamRegistry('pp-1');
  const stream = new ScriptedStream();
  registry.handle(stream, scriptedContext('hd-2'));
  stream.receive(features ? { name: 'hd-2', features } : { name: 'hd-2' });
  assert.equal(registry.has('hd-2'), true);
  return { registry, stream };
}

const address = { operator: 'hd-2', method: 'sleep', localId: '1' };
const request = (n: number) => ({ method: 'hd-2.sleep', id: `hd-2.sleep(${n})`, params: {} });

test('a caller that leaves: the request fails with its reason and a notice names its number', async () => {
  const { registry, stream } = open(['cancel']);
  const first: CallScope = { deadline: Deadline.unbounded(), cancellation: new Cancellation() };
  const second: CallScope = { deadline: Deadline.unbounded(), cancellation: new Cancellation() };
  const one = registry.deliver(request(1), address, first);
  const two = registry.deliver(request(2), address, second);
  second.cancellation.cancel(new CallCancelledError('the caller of the gateway of pp-1 disconnected'));
  await assert.rejects(two, CallCancelledError);
  assert.deepEqual(
    stream.sent.map((r) => [r.method, r.id]),
    [
      ['hd-2.sleep', 'hd-2.sleep(1)'],
      ['hd-2.sleep', 'hd-2.sleep(2)'],
      ['_cancel', '2'],
    ],
  );
  // The answers still come in order: the first is the first request's, the second is dropped.
  stream.receive({ n: 1 }, 'hd-2.sleep(1)');
  assert.deepEqual((await one).result, { n: 1 });
  stream.receive({ n: 2 }, 'hd-2.sleep(2)');
  const three = registry.deliver(request(3), address, first);
  stream.receive({ n: 3 }, 'hd-2.sleep(3)');
  assert.deepEqual((await three).result, { n: 3 }, 'the slot of the cancelled request was kept');
});

test("the caller's deadline: the request fails DeadlineExceeded at that time and is cancelled remotely", async () => {
  const { registry, stream } = open(['cancel']);
  const clock = new ManualClock();
  const scope: CallScope = { deadline: Deadline.after(1000, clock), cancellation: new Cancellation() };
  const pending = registry.deliver(request(1), address, scope);
  let settled = false;
  pending.catch(() => (settled = true));
  await clock.advance(999);
  assert.equal(settled, false);
  await clock.advance(1);
  const err = await pending.catch((e: unknown) => e);
  assert.ok(err instanceof DeadlineExceededError, String(err));
  assert.match(err.message, /the reverse stream to hd-2/);
  assert.deepEqual(stream.sent.at(-1), { method: '_cancel', id: '1', params: {}, clientName: 'pp-1' });
});

test('a dialling side that did not announce "cancel" (the original) never gets a notice', async () => {
  const { registry, stream } = open();
  const scope: CallScope = { deadline: Deadline.unbounded(), cancellation: new Cancellation() };
  const pending = registry.deliver(request(1), address, scope);
  scope.cancellation.cancel(new CallCancelledError('gone'));
  await assert.rejects(pending, CallCancelledError);
  assert.deepEqual(
    stream.sent.map((r) => r.method),
    ['hd-2.sleep'],
  );
});

test('a caller that already left sends nothing', async () => {
  const { registry, stream } = open(['cancel']);
  const scope: CallScope = { deadline: Deadline.unbounded(), cancellation: new Cancellation() };
  scope.cancellation.cancel(new CallCancelledError('gone'));
  await assert.rejects(registry.deliver(request(1), address, scope), CallCancelledError);
  assert.equal(stream.sent.length, 0);
});
