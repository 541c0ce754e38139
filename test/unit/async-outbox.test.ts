/**
 * Store and forward without sockets (async/outbox.ts, async/store-and-forward.ts, async/received.ts): on a
 * manual clock with a fake broker, queued requests are retried with backoff, delivered once the peer is
 * back, expire into an error for the backend, survive a reopen, and a full outbox changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsyncCalls } from '../../src/async/async-calls.js';
import type { JsonObject } from '../../src/core/json.js';
import type { EpsRequest } from '../../src/core/messages.js';
import { FakeHost, settings } from '../helpers/async-fake-host.js';
import { ManualClock } from '../helpers/manual-clock.js';

/** How many requests were sent so far (a function: assert.equal narrows a property to its literal). */
const sentCount = (host: FakeHost): number => host.sent.length;

const request = (n: string, params: JsonObject = {}): EpsRequest => ({
  method: 'ls-1.locate',
  id: `ls-1.locate(${n})`,
  params: { person: n, _async: { ttl: 30 }, _client: { name: 'hd-1' }, ...params },
});

async function withCalls(
  run: (
    calls: AsyncCalls,
    host: FakeHost,
    clock: ManualClock,
    reopen: () => Promise<AsyncCalls>,
  ) => Promise<void>,
  patch: Parameters<typeof settings>[1] = {},
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'eps-outbox-'));
  const clock = new ManualClock();
  const host = new FakeHost('hd-1');
  const open = async (): Promise<AsyncCalls> => {
    const calls = new AsyncCalls('hd-1', settings(dir, patch), clock);
    calls.attach(host);
    await calls.open();
    return calls;
  };
  const calls = await open();
  try {
    await run(calls, host, clock, open);
  } finally {
    await calls.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a queued request is retried with backoff and delivered once the callee is back', () =>
  withCalls(async (calls, host, clock) => {
    host.unreachable = true;
    const ack = await calls.forwarding.queueRequest(request('n:1'), 'ls-1');
    assert.deepEqual(ack.result, { _async: { ttl: 30, request: 'ls-1.locate(n:1)', queued: true } });
    assert.equal(calls.caller.status('ls-1.locate(n:1)')?.state, 'queued');
    assert.equal(host.sent.length, 0, 'the first retry waits');
    await clock.advance(1_000); // the first retry waits between 0.5 and 1 s
    assert.equal(host.sent.length, 1);
    // Then 1-2 s, 2-4 s, 4-8 s (doubling, half of it random): by 8 s, three or four attempts.
    await clock.advance(7_000);
    const attempts = sentCount(host);
    assert.ok(attempts >= 3 && attempts <= 4, `${attempts} attempts`);
    assert.equal(host.sent[0]!.params._client, undefined, 'sent without the caller view');
    assert.deepEqual(host.sent[0]!.params._async, { ttl: 30 }, 'the time left travels along');

    host.unreachable = false;
    await clock.advance(16_000); // retry_max is 8 s
    assert.equal(sentCount(host), attempts + 1);
    assert.equal(calls.forwarding.outbox.table.size, 0);
    assert.equal(
      calls.caller.status('ls-1.locate(n:1)')?.state,
      'awaiting',
      'the acknowledgement is recorded',
    );
    await clock.advance(60_000);
    assert.equal(host.sent.length, 4, 'nothing is sent again');
  }));

test('a result instead of an acknowledgement reaches the backend as respond, once', () =>
  withCalls(async (calls, host, clock) => {
    host.unreachable = true;
    await calls.forwarding.queueRequest(request('n:2'), 'ls-1');
    host.unreachable = false;
    host.answer = (r) => ({ id: r.id, result: { _: 'sync' } });
    await clock.advance(1_000);
    assert.equal(host.toOwnBackend.length, 1);
    assert.equal(host.toOwnBackend[0]!.jsonRpcId, 2);
    assert.equal(host.toOwnBackend[0]!.params.result, 'sync', 'unwrapped like a gateway answer');
    assert.equal(calls.caller.status('ls-1.locate(n:2)')?.state, 'done');
  }));

test('the outbox survives a reopen; an expired request comes back to the backend as an error', () =>
  withCalls(async (first, host, clock, reopen) => {
    host.unreachable = true;
    await first.forwarding.queueRequest(request('n:3'), 'ls-1');
    await first.close();
    const second = await reopen();
    try {
      assert.equal(second.forwarding.outbox.table.size, 1);
      await clock.advance(31_000);
      await second.sweep();
      assert.equal(second.forwarding.outbox.table.size, 0);
      const [expiry] = host.toOwnBackend;
      assert.equal(expiry?.jsonRpcId, 3);
      const error = expiry.params.error as { message: string; data: JsonObject };
      assert.equal(error.data.code, 'ERR_ASYNC_UNDELIVERED');
      assert.match(error.message, /ls-1 could not be reached within the time to live/);
    } finally {
      await second.close();
    }
  }));

test('a full outbox refuses with ERR_ASYNC_FULL and changes nothing', () =>
  withCalls(
    async (calls, host) => {
      host.unreachable = true;
      await calls.forwarding.queueRequest(request('a'), 'ls-1');
      await calls.forwarding.queueRequest(request('b'), 'ls-1');
      const full = await calls.forwarding.queueRequest(request('c'), 'ls-1');
      assert.equal(full.error?.data?.code, 'ERR_ASYNC_FULL');
      assert.match(full.error?.message ?? '', /outbox table is full for ls-1/);
      const big = await calls.forwarding.queueRequest(request('d', { blob: 'x'.repeat(5000) }), 'op-1');
      assert.equal(big.error?.data?.code, 'ERR_ASYNC_FULL');
      assert.equal(calls.forwarding.outbox.table.size, 2);
      assert.equal(calls.caller.table.size, 2);
      assert.equal(calls.caller.status('ls-1.locate(c)'), null);
    },
    { max_entries_per_peer: 2, max_bytes_per_peer: 4096 },
  ));

test('the callee answers a repeat of a marked request from memory, and marks a cut-short one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eps-received-'));
  const clock = new ManualClock();
  try {
    const calls = new AsyncCalls('ls-1', settings(dir), clock);
    await calls.open();
    const received = calls.forwarding.received;
    const params = (): JsonObject => ({ _async: { ttl: 10 } });
    assert.equal(await received.begin('ls-1.x(1)', 'hd-1', params()), undefined, 'first arrival');
    const busy = await received.begin('ls-1.x(1)', 'hd-1', params());
    assert.equal(busy?.error?.data?.code, 'ERR_ASYNC_TRY_LATER', 'a repeat while the first is in flight');
    await received.finish('ls-1.x(1)', 'hd-1', { id: 'ls-1.x(1)', result: { ok: 1 } });
    assert.deepEqual((await received.begin('ls-1.x(1)', 'hd-1', params()))?.result, { ok: 1 });
    assert.equal(
      await received.begin('ls-1.x(1)', 'op-1', params()),
      undefined,
      'another sender is not a repeat',
    );
    // ...nor can it replace or forget hd-1's memory: its own record is separate.
    await received.abandon('ls-1.x(1)', 'op-1');
    assert.deepEqual((await received.begin('ls-1.x(1)', 'hd-1', params()))?.result, { ok: 1 });
    assert.equal(await received.begin('ls-1.x(1)', 'op-1', params()), undefined);
    await received.finish('ls-1.x(1)', 'op-1', { id: 'ls-1.x(1)', result: { ok: 'op-1' } });
    assert.deepEqual((await received.begin('ls-1.x(1)', 'hd-1', params()))?.result, { ok: 1 });
    assert.deepEqual((await received.begin('ls-1.x(1)', 'op-1', params()))?.result, { ok: 'op-1' });

    // A crash while the request was with the backend: recorded, never answered.
    assert.equal(await received.begin('ls-1.x(2)', 'hd-1', params()), undefined);
    await calls.close();
    const again = new AsyncCalls('ls-1', settings(dir), clock);
    await again.open();
    const repeat = params();
    assert.equal(await again.forwarding.received.begin('ls-1.x(2)', 'hd-1', repeat), undefined);
    assert.deepEqual(repeat._async, { ttl: 10, redelivered: true });
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('method_ttl: a request to ls-1.locate marked without a ttl is given up after the 5 s its method has', () =>
  withCalls(
    async (calls, host, clock) => {
      host.unreachable = true;
      const ack = await calls.forwarding.queueRequest(request('m:1', { _async: true }), 'ls-1');
      assert.deepEqual(ack.result, { _async: { ttl: 5, request: 'ls-1.locate(m:1)', queued: true } });
      await clock.advance(4_900);
      await calls.sweep();
      assert.equal(host.toOwnBackend.length, 0, 'still queued before 5 s');
      assert.equal(calls.caller.status('ls-1.locate(m:1)')?.state, 'queued');
      await clock.advance(100);
      await calls.sweep();
      assert.equal(calls.forwarding.outbox.table.size, 0, 'given up at 5 s');
      const [expiry] = host.toOwnBackend;
      assert.equal((expiry?.params.error as { data: JsonObject }).data.code, 'ERR_ASYNC_UNDELIVERED');
      // Another method keeps the default time to live.
      const other = await calls.forwarding.queueRequest(
        { method: 'ls-1.lookup', id: 'ls-1.lookup(m:2)', params: { _async: true } },
        'ls-1',
      );
      assert.equal((other.result?._async as JsonObject).ttl, 600);
    },
    { outbox: { ...settings('').outbox, method_ttl: { 'ls-1.locate': 5 } } },
  ));
