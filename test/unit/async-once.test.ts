/**
 * The windows of "exactly once to the application" (docs/protocol.md#store-and-forward, point 7), without
 * sockets: a crash between handing an answer to the caller's backend and recording it, an answer too
 * large for the callee to keep for repeats, and an answer arriving while the first copy is handed over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsyncCalls } from '../../src/async/async-calls.js';
import { tryLater } from '../../src/async/protocol.js';
import { unboundedScope } from '../../src/core/cancellation.js';
import type { EpsRequest, EpsResponse } from '../../src/core/messages.js';
import { FakeHost, settings } from '../helpers/async-fake-host.js';
import { ManualClock } from '../helpers/manual-clock.js';

const ACK: EpsResponse = { id: 'x', result: { _async: true } };
const ID = 'ls-1.locate(n:1)';

function answer(calls: AsyncCalls, result: string): Promise<EpsResponse> {
  const request: EpsRequest = { method: 'hd-1._respond', id: 'hd-1._respond(a)', params: { id: ID, result } };
  return calls.receiveAnswer(request, 'ls-1');
}

async function inTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'eps-once-'));
  try {
    await run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('an answer whose hand-over a crash cut short is handed over again marked redelivered; a second copy meanwhile is asked to try later', () =>
  inTempDir(async (dir) => {
    const clock = new ManualClock();
    const host = new FakeHost('hd-1');
    let release: (r: EpsResponse | null) => void = () => {};
    let handed: () => void = () => {};
    const reached = new Promise<void>((resolve) => (handed = resolve));
    host.backend = () => {
      handed();
      return new Promise((resolve) => (release = resolve));
    };
    const first = new AsyncCalls('hd-1', settings(dir), clock);
    first.attach(host);
    await first.open();
    await first.caller.onPeerAnswer(ID, 'ls-1', ACK);
    const hanging = answer(first, 'found');
    await reached;
    assert.equal(host.toOwnBackend[0]!.params.redelivered, undefined, 'a first hand-over is not marked');
    // A second copy while the first is with the backend: not refused (that would end as a false
    // `undelivered` notice at the callee), asked to come again.
    const meanwhile = await answer(first, 'found');
    assert.equal(meanwhile.error?.data?.code, 'ERR_ASYNC_TRY_LATER', JSON.stringify(meanwhile));

    // "Crash": a new eps on the same store while the first is still stuck in the hand-over.
    const after = new FakeHost('hd-1');
    const second = new AsyncCalls('hd-1', settings(dir), clock);
    second.attach(after);
    await second.open();
    assert.deepEqual((await answer(second, 'found')).result, { accepted: true });
    assert.equal(after.toOwnBackend.length, 1);
    assert.equal(after.toOwnBackend[0]!.params.redelivered, true, 'the repeat says it may be one');
    assert.deepEqual((await answer(second, 'found')).result, { accepted: true, duplicate: true });
    assert.equal(after.toOwnBackend.length, 1);
    release({ id: ID, error: { code: 1, message: 'gone' } });
    await hanging;
    await second.close();
    await first.close();
  }));

test('an answer too large to keep for repeats: a repeat gets ERR_ASYNC_NOT_KEPT and never reaches the backend', () =>
  inTempDir(async (dir) => {
    const calls = new AsyncCalls('ls-1', settings(dir, { max_bytes_per_peer: 400 }), new ManualClock());
    await calls.open();
    const received = calls.forwarding.received;
    const params = () => ({ _async: { ttl: 10 } });
    assert.equal(await received.begin(ID, 'hd-1', params()), undefined);
    await received.finish(ID, 'hd-1', { id: ID, result: { blob: 'x'.repeat(1000) } });
    const repeat = await received.begin(ID, 'hd-1', params());
    assert.equal(repeat?.error?.data?.code, 'ERR_ASYNC_NOT_KEPT', JSON.stringify(repeat));
    assert.match(repeat?.error?.message ?? '', /answered .* once; .* not delivered again/);
    await calls.close();
    const reopened = new AsyncCalls('ls-1', settings(dir, { max_bytes_per_peer: 400 }), new ManualClock());
    await reopened.open();
    const again = await reopened.forwarding.received.begin(ID, 'hd-1', params());
    assert.equal(again?.error?.data?.code, 'ERR_ASYNC_NOT_KEPT', 'kept across a restart');
    await reopened.close();
  }));

test('a queued answer the caller asks to send later is sent again, never reported undelivered', () =>
  inTempDir(async (dir) => {
    const clock = new ManualClock();
    const host = new FakeHost('ls-1');
    const calls = new AsyncCalls('ls-1', settings(dir), clock);
    calls.attach(host);
    await calls.open();
    await calls.callee.onBackendAnswer(ID, 'hd-1', 'ls-1.locate', ACK);
    host.answerReply = (r) => tryLater(r.id, 'being handed over');
    const queued = await calls.respond(ID, { result: 1 }, unboundedScope());
    assert.deepEqual(queued.result, { delivered: false, queued: true, caller: 'hd-1' });
    await clock.advance(3_000);
    assert.ok(host.sent.length >= 2, `${host.sent.length} attempts`);
    assert.equal(calls.callee.status(ID)?.state, 'answer_queued');
    host.answerReply = undefined;
    await clock.advance(8_000);
    assert.equal(calls.callee.status(ID)?.state, 'answered');
    assert.equal(host.toOwnBackend.filter((r) => r.method === 'ls-1.undelivered').length, 0);
    await calls.close();
  }));
