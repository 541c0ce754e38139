/**
 * The broker's policy core on its own: a fake directory and fake channels, no sockets. Covers permissions,
 * identity overwrite, ID/method agreement, loop detection, routing and error shapes (the internal methods:
 * broker-internal-methods.test.ts; the shared fixture: test/helpers/broker-fixture.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Broker } from '../../src/broker/broker.js';
import { unboundedScope } from '../../src/core/cancellation.js';
import type { JsonObject } from '../../src/core/json.js';
import { ErrorCodes, type EpsResponse } from '../../src/core/messages.js';
import { broker, entries, FakeChannel, OWN, rejectsWith, request } from '../helpers/broker-fixture.js';
import { fixedDirectory } from '../helpers/fixed-directory.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { waitFor } from '../helpers/wait.js';

test('a caller in a permitted group is delivered to; its answer comes back unchanged', async () => {
  const channel = new FakeChannel('jsonrpc_client', [OWN]);
  const response = await broker(channel).deliver(request('eps-1.add(7)'), { name: 'hd-1' }, unboundedScope());
  assert.deepEqual(response, { id: 'eps-1.add(7)', result: { via: 'jsonrpc_client', method: 'add' } });
  assert.equal(channel.delivered.length, 1);
  assert.deepEqual(channel.delivered[0]!.address, { operator: OWN, method: 'add', localId: '7' });
});

test('a caller outside the permitted groups gets a 403 response and nothing is delivered', async () => {
  const channel = new FakeChannel('jsonrpc_client', [OWN]);
  const response = await broker(channel).deliver(request('eps-1.add(7)'), { name: 'xx-1' }, unboundedScope());
  assert.deepEqual(response, {
    id: 'eps-1.add(7)',
    error: {
      code: ErrorCodes.permissionDenied,
      message: "Permission denied for method 'add' and client 'xx-1'",
    },
  });
  assert.equal(channel.delivered.length, 0);
});

test('a method no service lists is denied to peers but allowed to the own operator', async () => {
  const channel = new FakeChannel('jsonrpc_client', [OWN]);
  const b = broker(channel);
  const denied = await b.deliver(request('eps-1.remove(1)'), { name: 'hd-1' }, unboundedScope());
  assert.equal(denied?.error?.code, ErrorCodes.permissionDenied);
  const local = await b.deliver(request('eps-1.remove(1)'), { name: OWN }, unboundedScope());
  assert.equal(local?.error, undefined);
  assert.equal(channel.delivered.length, 1);
});

test('a forged _client or _caller in the params is replaced by the authenticated hop', async () => {
  const channel = new FakeChannel('jsonrpc_client', [OWN]);
  const forged = { _client: { name: 'ls-1', entry: { name: 'ls-1' } }, _caller: 'ls-1', x: 1 };
  await broker(channel).deliver(request('eps-1.add(1)', forged), { name: 'hd-1' }, unboundedScope());
  const params = channel.delivered[0]!.request.params;
  assert.deepEqual(params._caller, params._client);
  assert.equal(params.x, 1);
  const client = params._client as { name: string; entry: JsonObject };
  assert.equal(client.name, 'hd-1');
  assert.equal(client.entry.name, 'hd-1');
  assert.deepEqual(client.entry.groups, ['health-departments']);
});

test('the _client entry is sent without the records audit log', async () => {
  const channel = new FakeChannel('jsonrpc_client', [OWN, 'ls-1']);
  await broker(channel).deliver(request('ls-1.add(1)'), { name: OWN }, unboundedScope());
  const client = channel.delivered[0]!.request.params._client as { name: string; entry: JsonObject };
  assert.equal(client.name, OWN);
  assert.equal('records' in client.entry, false);
  assert.deepEqual(client.entry.groups, ['operators']);
});

test('the method field must name the operator and method of the addressed ID', async () => {
  const channel = new FakeChannel('jsonrpc_client', [OWN]);
  const b = broker(channel);
  await rejectsWith(
    b.deliver(request('eps-1.add(1)', {}, 'eps-1.remove'), { name: 'hd-1' }, unboundedScope()),
    "method 'eps-1.remove' does not match the addressed ID 'eps-1.add(1)'",
  );
  await rejectsWith(
    b.deliver(request('eps-1.add(1)', {}, 'ls-1.add'), { name: 'hd-1' }, unboundedScope()),
    "method 'ls-1.add' does not match the addressed ID 'eps-1.add(1)'",
  );
  assert.equal(channel.delivered.length, 0);
});

test('requests the broker cannot place fail with a BrokerError naming the reason', async () => {
  const b = broker(new FakeChannel('jsonrpc_client', [OWN]));
  await rejectsWith(b.deliver(request('eps-1.add(1)'), undefined, unboundedScope()), 'client info missing');
  await rejectsWith(
    b.deliver(request('eps-1.add(1)'), { name: 'zz-9' }, unboundedScope()),
    "error retrieving directory entry for client 'zz-9': no directory entry found",
  );
  await rejectsWith(
    b.deliver({ id: 'no-address', method: 'x', params: {} }, { name: 'hd-1' }, unboundedScope()),
    'error parsing address: invalid ID format',
  );
  await rejectsWith(
    b.deliver(request('zz-9.add(1)'), { name: OWN }, unboundedScope()),
    "error retrieving directory entry for recipient 'zz-9': no directory entry found",
  );
});

test('the broker needs its own directory entry', async () => {
  const b = new Broker('not-listed', fixedDirectory(entries()));
  await rejectsWith(
    b.deliver(request('eps-1.add(1)'), { name: 'hd-1' }, unboundedScope()),
    'error retrieving own entry: no directory entry found',
  );
});

test('no channel for the recipient is a BrokerError; the first channel that can deliver wins', async () => {
  const first = new FakeChannel('grpc_client', ['ls-1']);
  const second = new FakeChannel('jsonrpc_client', ['ls-1', OWN]);
  const b = broker(first, second);
  await rejectsWith(
    b.deliver(request('hd-1.add(1)'), { name: OWN }, unboundedScope()),
    'no channel can deliver this request',
  );
  const response = await b.deliver(request('ls-1.add(1)'), { name: OWN }, unboundedScope());
  assert.equal(response?.result?.via, 'grpc_client');
  assert.equal(first.delivered.length, 1);
  assert.equal(second.delivered.length, 0);
});

test('a failing channel becomes a 500 response naming the channel index and the cause', async () => {
  const working = new FakeChannel('grpc_client', ['ls-1']);
  const failing = new FakeChannel('jsonrpc_client', [OWN], () => Promise.reject(new Error('backend down')));
  const response = await broker(working, failing).deliver(
    request('eps-1.add(3)'),
    { name: 'hd-1' },
    unboundedScope(),
  );
  assert.deepEqual(response, {
    id: 'eps-1.add(3)',
    error: {
      code: ErrorCodes.channelError,
      message: 'Channel 1 encountered an error delivering the message: backend down',
    },
  });
});

test('a channel answering null (delivered, no response) passes null through', async () => {
  const channel = new FakeChannel('stdout', [OWN], () => Promise.resolve(null));
  assert.equal(
    await broker(channel).deliver(request('eps-1.add(1)'), { name: 'hd-1' }, unboundedScope()),
    null,
  );
});

test('two channels of the same type cannot be registered', () => {
  const b = broker(new FakeChannel('grpc_client', []));
  assert.throws(() => b.register(new FakeChannel('grpc_client', [])), /channel of same type already exists/);
});

/** A channel whose deliveries stay pending until released, to hold a request "in flight". */
function holdingChannel(): { channel: FakeChannel; release: () => void } {
  const waiting: (() => void)[] = [];
  const channel = new FakeChannel(
    'grpc_client',
    ['ls-1', OWN],
    (req) =>
      new Promise((resolve) => {
        waiting.push(() => resolve({ id: req.id, result: {} }));
      }),
  );
  return { channel, release: () => waiting.splice(0).forEach((r) => r()) };
}

test('loop detection: a relayed request whose ID is already being relayed is refused', async () => {
  const { channel, release } = holdingChannel();
  const b = broker(channel);
  const first = b.deliver(request('ls-1.add(1)'), { name: 'hd-1' }, unboundedScope());
  await rejectsWith(
    b.deliver(request('ls-1.add(1)'), { name: 'hd-1' }, unboundedScope()),
    'request ls-1.add(1) is already being processed (maybe a delivery loop)',
  );
  release();
  assert.deepEqual(await first, { id: 'ls-1.add(1)', result: {} });
  // Once the first relay is done, the ID is free again.
  const again = b.deliver(request('ls-1.add(1)'), { name: 'hd-1' }, unboundedScope());
  release();
  assert.deepEqual(await again, { id: 'ls-1.add(1)', result: {} });
});

test('loop detection only tracks relayed requests: local calls and calls to this node may share an ID', async () => {
  const { channel, release } = holdingChannel();
  const b = broker(channel);
  const pending = [
    b.deliver(request('ls-1.add(1)'), { name: OWN }, unboundedScope()),
    b.deliver(request('ls-1.add(1)'), { name: OWN }, unboundedScope()),
    b.deliver(request('eps-1.add(1)'), { name: 'hd-1' }, unboundedScope()),
    b.deliver(request('eps-1.add(1)'), { name: 'hd-1' }, unboundedScope()),
  ];
  await waitFor(() => channel.delivered.length === 4, {
    timeoutMs: 2_000,
    what: 'four deliveries in flight',
  });
  release();
  for (const response of await Promise.all(pending)) assert.equal(response?.error, undefined);
});

test('the relay slot is freed when the channel fails', async () => {
  let fail = true;
  const channel = new FakeChannel('grpc_client', ['ls-1'], (req) =>
    fail ? Promise.reject(new Error('gone')) : Promise.resolve({ id: req.id, result: {} }),
  );
  const b = broker(channel);
  const failed = await b.deliver(request('ls-1.add(1)'), { name: 'hd-1' }, unboundedScope());
  assert.equal(failed?.error?.code, ErrorCodes.channelError);
  fail = false;
  assert.deepEqual(await b.deliver(request('ls-1.add(1)'), { name: 'hd-1' }, unboundedScope()), {
    id: 'ls-1.add(1)',
    result: {},
  });
});

test('whenIdle (graceful stop): resolves when the last request in flight is answered, or false at its bound', async () => {
  const clock = new ManualClock();
  let answer: (r: EpsResponse) => void = () => undefined;
  const held = new FakeChannel('jsonrpc_client', [OWN], () => new Promise((resolve) => (answer = resolve)));
  const b = broker(held);
  assert.equal(await b.whenIdle(1000, clock), true, 'idle at once with nothing in flight');
  const call = b.deliver(request('eps-1.add(1)'), { name: 'hd-1' }, unboundedScope());
  await waitFor(() => held.delivered.length === 1, {
    what: 'the request to reach the channel',
    timeoutMs: 5000,
  });
  assert.equal(b.requestsInFlight, 1);
  let idle: boolean | undefined;
  void b.whenIdle(1000, clock).then((v) => (idle = v));
  await clock.advance(999);
  assert.equal(idle, undefined);
  answer({ id: 'eps-1.add(1)', result: { n: 1 } });
  await call;
  await clock.advance(0);
  assert.equal(idle, true, 'woken by the answer, before the bound');
  assert.equal(clock.pending, 0);

  const stuck = b.deliver(request('eps-1.add(2)'), { name: 'hd-1' }, unboundedScope());
  await waitFor(() => held.delivered.length === 2, {
    what: 'the second request to reach the channel',
    timeoutMs: 5000,
  });
  const bounded = b.whenIdle(500, clock);
  await clock.advance(500);
  assert.equal(await bounded, false, 'gave up at the bound');
  answer({ id: 'eps-1.add(2)', result: { n: 2 } });
  await stuck;
});
