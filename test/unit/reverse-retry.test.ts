/**
 * Safe retries on the accepting side of reverse streams: a request never sent on a stream goes once more on
 * the peer's next stream (which calls wait for, a little while, after a stream ended); a request that was
 * sent and then lost with its stream fails, and its error says it may have been processed. Scripted streams
 * on a manual clock: no sockets, no waiting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReverseStreamRegistry } from '../../src/channels/reverse/accepting-side.js';
import { REOPEN_WAIT_MS, ReopenWaits } from '../../src/channels/reverse/reopen-wait.js';
import { Deadline } from '../../src/core/deadline.js';
import { Cancellation, type CallScope } from '../../src/core/cancellation.js';
import { PeerDisconnectedError } from '../../src/broker/channel-errors.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { ScriptedStream, scriptedContext } from '../helpers/scripted-reverse-stream.js';

const ctx = scriptedContext('hd-2');

/** hd-2 opens a (new) stream to the registry. */
function connect(registry: ReverseStreamRegistry): ScriptedStream {
  const stream = new ScriptedStream();
  registry.handle(stream, ctx);
  stream.receive({ name: 'hd-2', features: ['cancel'] });
  return stream;
}

const address = { operator: 'hd-2', method: 'add', localId: '1' };
const request = (n: number) => ({ method: 'hd-2.add', id: `hd-2.add(${n})`, params: {} });
const scope = (clock: ManualClock, ms = 10_000): CallScope => ({
  deadline: Deadline.after(ms, clock),
  cancellation: new Cancellation(),
});

test('a request that could not be sent goes once more on the next stream; one sent before it may have been processed', async () => {
  const clock = new ManualClock();
  const registry = new ReverseStreamRegistry('pp-1', 30_000, clock);
  const first = connect(registry);
  const sent = registry.deliver(request(1), address, scope(clock));
  await clock.advance(0); // written to the stream
  first.failSends = true;
  const unsent = registry.deliver(request(2), address, scope(clock));
  const sentErr = await sent.catch((e: unknown) => e);
  assert.ok(sentErr instanceof PeerDisconnectedError && !sentErr.unprocessed);
  assert.match(sentErr.message, /may have been processed/);
  assert.equal(registry.canDeliverTo(address), true, 'the peer is expected back');

  await clock.advance(300); // hd-2 re-opens
  const second = connect(registry);
  await clock.advance(0);
  assert.deepEqual(
    second.sent.map((r) => r.id),
    ['hd-2.add(2)'],
    'only the unsent request is sent again',
  );
  second.receive({ n: 2 }, 'hd-2.add(2)');
  assert.deepEqual((await unsent).result, { n: 2 });
});

test('a call for a peer whose stream just ended waits for the next one, at most REOPEN_WAIT_MS', async () => {
  const clock = new ManualClock();
  const registry = new ReverseStreamRegistry('pp-1', 30_000, clock);
  connect(registry).drop();
  const waiting = registry.deliver(request(1), address, scope(clock));
  await clock.advance(REOPEN_WAIT_MS / 2);
  const next = connect(registry);
  await clock.advance(0);
  next.receive({ n: 1 }, 'hd-2.add(1)');
  assert.deepEqual((await waiting).result, { n: 1 });

  next.drop();
  const late = assert.rejects(
    registry.deliver(request(2), address, scope(clock)),
    /no new reverse stream within/,
  );
  await clock.advance(REOPEN_WAIT_MS);
  await late;
  assert.equal(registry.canDeliverTo(address), false, 'no longer expected');
  await assert.rejects(registry.deliver(request(3), address, scope(clock)), PeerDisconnectedError);
});

test('the wait ends at the caller deadline and the number of waiting calls is bounded', async () => {
  const clock = new ManualClock();
  const waits = new ReopenWaits<string>(2, clock);
  waits.streamEnded('a');
  const short = assert.rejects(waits.wait('a', scope(clock, 100)), /deadline/);
  await clock.advance(100);
  await short;
  assert.equal(clock.pending, 0, 'its timers are cleared');
  waits.streamEnded('b');
  waits.streamEnded('c');
  assert.equal(waits.expecting('a'), false, 'at most 2 peers remembered, the oldest is forgotten');
  assert.equal(waits.expecting('c'), true);
});

test('closeAll (graceful stop) ends every stream at once; a request still waiting there may have been processed', async () => {
  const clock = new ManualClock();
  const registry = new ReverseStreamRegistry('pp-1', 30_000, clock);
  const stream = connect(registry);
  const pending = registry.deliver(request(1), address, scope(clock));
  await clock.advance(0);
  registry.closeAll();
  await assert.rejects(pending, /the server is stopping before the answer; it may have been processed/);
  assert.equal(stream.closed, true, 'the dialling side sees the end');
  assert.equal(registry.has('hd-2'), false);
});
