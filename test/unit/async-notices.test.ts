/**
 * Nothing dropped silently, nothing stuck (async/hand-over-retry.ts, outbox.ts, caller-side.ts), on a
 * manual clock with a fake broker: an undelivered answer is kept until its notice reached the backend; a
 * notice or expiry the backend refuses is retried with backoff and given up after bounded attempts (and
 * counted); one hanging hand-over does not stall other expiries; one failing message does not hold up its
 * peer's queue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsyncCalls } from '../../src/async/async-calls.js';
import { NOTICE_ATTEMPTS } from '../../src/async/hand-over-retry.js';
import { asyncExpired, noticesDropped } from '../../src/async/metrics.js';
import { tryLater } from '../../src/async/protocol.js';
import { unboundedScope } from '../../src/core/cancellation.js';
import { configureLogging } from '../../src/core/log.js';
import type { EpsRequest, EpsResponse } from '../../src/core/messages.js';
import { FakeHost, settings } from '../helpers/async-fake-host.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { waitFor } from '../helpers/wait.js';

const ACK: EpsResponse = { id: 'x', result: { _async: { ttl: 10 } } };
const refuse = async (r: EpsRequest): Promise<EpsResponse> => ({
  id: r.id,
  error: { code: 7, message: 'not now' },
});

async function withCalls(
  name: string,
  run: (calls: AsyncCalls, host: FakeHost, clock: ManualClock) => Promise<void>,
  patch: Parameters<typeof settings>[1] = {},
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'eps-notices-'));
  const clock = new ManualClock();
  const host = new FakeHost(name);
  const calls = new AsyncCalls(name, settings(dir, patch), clock);
  calls.attach(host);
  await calls.open();
  try {
    await run(calls, host, clock);
  } finally {
    await calls.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function dropped(kind: string): Promise<number> {
  return (await noticesDropped.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0;
}

const notices = (host: FakeHost): EpsRequest[] =>
  host.toOwnBackend.filter((r) => r.method === 'ls-1.undelivered');

test('an expired queued answer is kept until its undelivered notice reached the backend', () =>
  withCalls('ls-1', async (calls, host, clock) => {
    await calls.callee.onBackendAnswer('ls-1.locate(n:1)', 'hd-1', 'ls-1.locate', ACK);
    host.unreachable = true;
    await calls.respond('ls-1.locate(n:1)', { result: 1 }, unboundedScope());
    host.backend = refuse;
    await clock.advance(10_000);
    await calls.sweep();
    assert.equal(notices(host).length, 1, 'the notice was tried');
    assert.equal(calls.forwarding.outbox.table.size, 1, 'and the answer kept, since the backend refused it');
    host.backend = async (r) => ({ id: r.id, result: { ok: 1 } });
    await clock.advance(2_000);
    await calls.sweep();
    assert.equal(notices(host).length, 2);
    const error = notices(host)[1]!.params.error as { data: { code: string } };
    assert.equal(error.data.code, 'ERR_ASYNC_UNDELIVERED');
    assert.equal(calls.forwarding.outbox.table.size, 0, 'dropped once the backend took the notice');
  }));

test('a notice the backend always refuses is given up after bounded attempts, logged and counted', () =>
  withCalls('ls-1', async (calls, host, clock) => {
    const before = await dropped('undelivered');
    await calls.callee.onBackendAnswer('ls-1.locate(n:2)', 'hd-1', 'ls-1.locate', ACK);
    host.unreachable = true;
    await calls.respond('ls-1.locate(n:2)', { result: 1 }, unboundedScope());
    host.backend = refuse;
    for (let i = 0; i < NOTICE_ATTEMPTS + 3; i++) {
      await clock.advance(10 * 60_000);
      await calls.sweep();
    }
    assert.equal(notices(host).length, NOTICE_ATTEMPTS);
    assert.equal(calls.forwarding.outbox.table.size, 0);
    assert.equal(await dropped('undelivered'), before + 1);
  }));

test('an expiry the backend refuses is retried with backoff, then given up and counted', () =>
  withCalls('hd-1', async (calls, host, clock) => {
    const before = await dropped('expiry');
    await calls.caller.onPeerAnswer('ls-1.locate(n:3)', 'ls-1', ACK);
    host.backend = refuse;
    await clock.advance(10_000);
    for (let i = 0; i < 5; i++) {
      await calls.sweep();
      await clock.advance(1_000);
    }
    const early = host.toOwnBackend.length;
    assert.ok(early >= 2 && early <= 4, `${early} hand-overs in 5 s: not one per sweep`);
    // Within 45 minutes (before an expired record is forgotten, an hour after its time to live).
    for (let i = 0; i < 15; i++) {
      await clock.advance(3 * 60_000);
      await calls.sweep();
    }
    assert.equal(host.toOwnBackend.length, NOTICE_ATTEMPTS);
    assert.equal(calls.caller.status('ls-1.locate(n:3)')?.state, 'expired');
    assert.equal(await dropped('expiry'), before + 1);
  }));

test('one hanging hand-over does not stall the other expiries of a sweep', () =>
  withCalls('hd-1', async (calls, host, clock) => {
    await calls.caller.onPeerAnswer('ls-1.locate(hang)', 'ls-1', ACK);
    await calls.caller.onPeerAnswer('ls-1.locate(fine)', 'ls-1', ACK);
    let release: (r: EpsResponse) => void = () => {};
    host.backend = (r) =>
      r.jsonRpcId === 'hang'
        ? new Promise((resolve) => (release = resolve))
        : Promise.resolve({ id: r.id, result: { ok: 1 } });
    await clock.advance(10_000);
    const sweep = calls.sweep();
    await waitFor(() => calls.caller.status('ls-1.locate(fine)')?.state === 'expired', {
      timeoutMs: 5_000,
      what: 'the other expiry while one hangs',
    });
    release({ id: 'x', result: { ok: 1 } });
    await sweep;
    assert.equal(calls.caller.status('ls-1.locate(hang)')?.state, 'expired');
  }));

test("one message the peer keeps refusing does not hold up the rest of its peer's queue", () =>
  withCalls(
    'hd-1',
    async (calls, host, clock) => {
      host.unreachable = true;
      const request = (n: string): EpsRequest => ({
        method: 'ls-1.locate',
        id: `ls-1.locate(${n})`,
        params: { _async: { ttl: 600 } },
      });
      await calls.forwarding.queueRequest(request('stuck'), 'ls-1');
      await calls.forwarding.queueRequest(request('next'), 'ls-1');
      host.unreachable = false;
      host.answer = (r) =>
        r.id === 'ls-1.locate(stuck)' ? tryLater(r.id, 'busy') : { id: r.id, result: { _async: true } };
      await clock.advance(1_000);
      assert.equal(calls.caller.status('ls-1.locate(next)')?.state, 'awaiting');
      assert.equal(calls.caller.status('ls-1.locate(stuck)')?.state, 'queued');
      assert.equal(calls.forwarding.outbox.table.size, 1);
    },
    { outbox: { ttl: 600, method_ttl: {}, retry_initial: 1, retry_max: 8, concurrency: 1 } },
  ));

test('a pending request that expires unanswered is counted on the callee side, once', () =>
  withCalls('ls-1', async (calls, _host, clock) => {
    const count = async (): Promise<number> =>
      (await asyncExpired.get()).values.find((v) => v.labels.side === 'callee')?.value ?? 0;
    const before = await count();
    await calls.callee.onBackendAnswer('ls-1.locate(n:9)', 'hd-1', 'ls-1.locate', ACK);
    await calls.callee.onBackendAnswer('ls-1.locate(n:10)', 'hd-1', 'ls-1.locate', ACK);
    await calls.respond('ls-1.locate(n:10)', { result: 1 }, unboundedScope());
    await clock.advance(10_000);
    await calls.sweep();
    await clock.advance(1_000);
    await calls.sweep();
    assert.equal(await count(), before + 1, 'the unanswered one, once; not the answered one');
  }));

test('a peer that calls us wakes its queue at once instead of at the next retry', () =>
  withCalls('hd-1', async (calls, host, clock) => {
    host.unreachable = true;
    const request: EpsRequest = { method: 'ls-1.locate', id: 'ls-1.locate(w)', params: { _async: true } };
    await calls.forwarding.queueRequest(request, 'ls-1');
    await clock.advance(7_000); // three or four failed attempts: the next one is seconds away
    const before = host.sent.length;
    host.unreachable = false;
    calls.forwarding.outbox.wake('ls-1');
    await waitFor(() => calls.forwarding.outbox.table.size === 0, {
      timeoutMs: 5_000,
      what: 'the woken delivery (the manual clock stands still)',
    });
    assert.equal(host.sent.length, before + 1);
    assert.equal(calls.caller.status('ls-1.locate(w)')?.state, 'awaiting');
  }));

test('an undelivered answer that cannot be kept gets one notice; a refusal is given up, not "retried"', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eps-notices-'));
  const clock = new ManualClock();
  const host = new FakeHost('ls-1');
  const limits = settings(dir);
  const calls = new AsyncCalls('ls-1', limits, clock);
  calls.attach(host);
  await calls.open();
  const logs: string[] = [];
  configureLogging({ write: (line) => logs.push(line) });
  try {
    const before = await dropped('undelivered');
    await calls.callee.onBackendAnswer('ls-1.locate(n:5)', 'hd-1', 'ls-1.locate', ACK);
    host.unreachable = true;
    await calls.respond('ls-1.locate(n:5)', { result: 1 }, unboundedScope());
    // The bound (the same for every table) is lowered to what hd-1's queued answer takes now: marking it
    // failed (with the error's message) does not fit any more.
    limits.max_bytes_per_peer = calls.forwarding.outbox.table.bytes;
    host.backend = refuse;
    await clock.advance(10_000);
    await calls.sweep();
    assert.equal(notices(host).length, 1, 'the notice was tried once');
    assert.equal(calls.forwarding.outbox.table.size, 0, 'the answer could not be kept');
    assert.ok(!logs.some((l) => /retried/.test(l)), logs.join('\n'));
    assert.ok(
      logs.some((l) => /notice never taken by the backend; given up/.test(l)),
      logs.join('\n'),
    );
    assert.equal(await dropped('undelivered'), before + 1, 'counted as dropped');
    for (let i = 0; i < 3; i++) {
      await clock.advance(10 * 60_000);
      await calls.sweep();
    }
    assert.equal(notices(host).length, 1, 'and never tried again');
  } finally {
    configureLogging({ write: (line) => process.stderr.write(line + '\n') });
    await calls.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
