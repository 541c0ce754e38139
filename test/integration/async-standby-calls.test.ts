/**
 * Two AsyncCalls of ls-1 on one real Redis store (async/async-calls.ts with async/lease-keeper.ts): the
 * second is standby and refuses every kind of asynchronous work clearly; when the first loses its lease it
 * stops writing and delivering at once, and the second takes over, loads the tables afresh and delivers
 * the answer the first had queued.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Cancellation } from '../../src/core/cancellation.js';
import { Deadline } from '../../src/core/deadline.js';
import type { JsonObject } from '../../src/core/json.js';
import { AsyncCalls, type AsyncSettings } from '../../src/async/async-calls.js';
import { isTryLater } from '../../src/async/protocol.js';
import { asyncSettingsSchema } from '../../src/settings/eps-schema.js';
import { FakeHost, settings as unitSettings } from '../helpers/async-fake-host.js';
import { redisSkip, startRedis, type RedisServer } from '../helpers/sd-harness.js';
import { waitFor } from '../helpers/wait.js';

let redis: RedisServer | undefined;
let settings: AsyncSettings;
const ID = 'ls-1.locate(q-1)';
const scope = () => ({ deadline: Deadline.after(5000), cancellation: new Cancellation() });
const ack = { id: ID, result: { _async: true } };

before(async () => {
  if (redisSkip) return;
  redis = await startRedis();
  const store = asyncSettingsSchema.parse({
    store: {
      type: 'redis',
      settings: { addresses: [`127.0.0.1:${redis.port}`], password: '', key: 'standby-calls' },
      lease: 1,
    },
  }).store;
  settings = unitSettings('', {
    store,
    outbox: { ...unitSettings('').outbox, retry_initial: 0.1, retry_max: 0.2 },
  });
});

after(async () => {
  await redis?.stop();
});

function instance(): { calls: AsyncCalls; host: FakeHost } {
  const calls = new AsyncCalls('ls-1', settings);
  const host = new FakeHost('ls-1');
  calls.attach(host);
  return { calls, host };
}

const code = (r: { error?: { data?: unknown } | undefined } | null): unknown =>
  (r?.error?.data as JsonObject | undefined)?.code;

test('the lease setting: 10 s by default, 1 to 300 s', { skip: redisSkip }, () => {
  const parse = (lease?: number) =>
    asyncSettingsSchema.safeParse({
      store: { type: 'redis', settings: { addresses: ['127.0.0.1:1'], password: '' }, lease },
    });
  const parsed = parse();
  assert.ok(parsed.success && parsed.data.store.type === 'redis' && parsed.data.store.lease === 10);
  assert.equal(parse(0.5).success, false);
  assert.equal(parse(301).success, false);
});

test(
  'a standby refuses asynchronous work; the active one that loses its lease stops; the standby delivers',
  { skip: redisSkip },
  async () => {
    const a = instance();
    await a.calls.open();
    assert.deepEqual(a.calls.storeStatus().role, 'active');
    // Pending at a; its answer cannot reach hd-1 now and is queued in the outbox.
    assert.ok(await a.calls.callee.onBackendAnswer(ID, 'hd-1', 'ls-1.locate', ack));
    a.host.unreachable = true;
    const queued = await a.calls.respond(ID, { result: { found: true } }, scope());
    assert.equal(queued.error, undefined, JSON.stringify(queued));

    const b = instance();
    await b.calls.open();
    const status = b.calls.storeStatus();
    assert.equal(status.role, 'standby');
    assert.match(
      status.standby as string,
      /^standby: the store of asynchronous calls is held by host=\S+ pid=\d+$/,
    );
    await assert.rejects(b.calls.probeStore(), /standby: the store of asynchronous calls is held by/);
    assert.equal(code(await b.calls.respond(ID, { result: 1 }, scope())), 'ERR_ASYNC_STANDBY');
    assert.equal(code(b.calls.statusAnswer('s', ID)), 'ERR_ASYNC_STANDBY');
    assert.equal(code(b.calls.refusal('ls-1.x(1)', true, false, false) ?? null), 'ERR_ASYNC_STANDBY');
    assert.ok(isTryLater(b.calls.refusal('ls-1.locate(9)', true, true, true) ?? null));
    assert.equal(b.calls.refusal('ls-1.locate(9)', false, true, true), undefined, 'synchronous: goes on');
    const answer = {
      method: 'ls-1._respond',
      id: 'ls-1._respond(x)',
      params: { id: 'ls-1.y(1)', result: 1 },
    };
    assert.ok(isTryLater(await b.calls.receiveAnswer(answer, 'ls-1')));
    // A synchronous call acknowledged by the backend: the standby cannot record it and says so.
    const acked = await b.calls.callee.onBackendAnswer('ls-1.locate(q-2)', 'hd-1', 'ls-1.locate', {
      id: 'ls-1.locate(q-2)',
      result: { _async: true },
    });
    assert.equal(code(acked), 'ERR_ASYNC_STANDBY');

    // The lease is taken from a (as if it had paused past its lease and another instance took it).
    const client = new Redis({ port: redis!.port, host: '127.0.0.1' });
    const lease = 'standby-calls:{ls-1}.lease';
    await client.set(lease, 'host=elsewhere pid=1 0a', 'PX', 1000);
    await waitFor(() => a.calls.storeStatus().role === 'standby', { timeoutMs: 2000, what: 'a to notice' });
    a.host.unreachable = false; // its outbox would deliver now, had it not stopped
    const sentByA = a.host.sent.length;
    const refused = await a.calls.callee.onBackendAnswer('ls-1.locate(q-3)', 'hd-1', 'ls-1.locate', {
      id: 'ls-1.locate(q-3)',
      result: { _async: true },
    });
    assert.equal(code(refused), 'ERR_ASYNC_STANDBY', 'no more writes');

    // The other holder hands the lease to b (b finds its own token: it takes it at its next poll).
    const bToken = (b.calls as unknown as { keeper: { backend: { token: string } } }).keeper.backend.token;
    await client.set(lease, bToken, 'PX', 1000);
    client.disconnect();
    await waitFor(() => b.host.sent.some((r) => r.method === 'hd-1._respond'), {
      timeoutMs: 5000,
      what: 'b to deliver the answer a had queued',
    });
    const drained = (): boolean => (b.calls.status(undefined).outbox as JsonObject).entries === 0;
    await waitFor(drained, { timeoutMs: 2000, what: 'the outbox of b to drain' });
    assert.equal(b.calls.storeStatus().role, 'active');
    assert.equal(a.host.sent.length, sentByA, 'a delivered nothing after it lost the lease');
    assert.equal(b.calls.status(ID).pending !== null, true, 'the pending record was loaded from Redis');
    await a.calls.close();
    await b.calls.close();
  },
);
