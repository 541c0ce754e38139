/**
 * The bounds of the tables of asynchronous calls at their edge (async/bounded-table.ts): a change of state
 * of a record (answered, handing over, done) is never refused for room, since it is written after an
 * answer went out; room for a marked request's awaited record is held before it is sent; an id still
 * awaited is not taken by a second request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsyncCalls } from '../../src/async/async-calls.js';
import { peerKey, STATE_SLACK_BYTES } from '../../src/async/bounded-table.js';
import type { AsyncError } from '../../src/async/errors.js';
import { unboundedScope } from '../../src/core/cancellation.js';
import type { EpsRequest, EpsResponse } from '../../src/core/messages.js';
import { FakeHost, settings } from '../helpers/async-fake-host.js';
import { ManualClock } from '../helpers/manual-clock.js';

const ACK: EpsResponse = { id: 'x', result: { _async: true } };

/** What one record is charged when added: exactly the room of a table bounded to it alone. */
function chargeOf(key: string, record: object): number {
  return Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(record)) + STATE_SLACK_BYTES;
}

async function withNode(
  name: string,
  maxBytesPerPeer: number,
  run: (calls: AsyncCalls, host: FakeHost) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'eps-bounds-'));
  const host = new FakeHost(name);
  const calls = new AsyncCalls(
    name,
    settings(dir, { max_bytes_per_peer: maxBytesPerPeer }),
    new ManualClock(),
  );
  calls.attach(host);
  await calls.open();
  try {
    await run(calls, host);
  } finally {
    await calls.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const NOW = new ManualClock().now();

test('callee at its bound: the answer is sent and recorded as answered, a second respond refused', () => {
  const id = 'ls-1.locate(n:1)';
  const record = { peer: 'hd-1', method: 'ls-1.locate', expires: NOW + 60_000 };
  return withNode('ls-1', chargeOf(peerKey('hd-1', id), record), async (calls, host) => {
    const acked = await calls.callee.onBackendAnswer(id, 'hd-1', 'ls-1.locate', ACK);
    assert.equal(acked?.error, undefined, JSON.stringify(acked));
    const other = await calls.callee.onBackendAnswer('ls-1.locate(n:2)', 'hd-1', 'ls-1.locate', ACK);
    assert.equal(other?.error?.data?.code, 'ERR_ASYNC_FULL', 'the bound holds for new records');

    const first = await calls.respond(id, { result: { lat: 1 } }, unboundedScope());
    assert.deepEqual(first.result, { delivered: true, caller: 'hd-1' }, JSON.stringify(first));
    assert.equal(calls.callee.status(id)?.state, 'answered');
    const second = await calls.respond(id, { result: { lat: 2 } }, unboundedScope());
    assert.equal(second.error?.data?.code, 'ERR_ASYNC_ALREADY_ANSWERED');
    assert.equal(host.sent.length, 1, 'the answer went out once');
  });
});

test('caller at its bound: the answer is handed over (handing, done recorded), a repeat dropped', () => {
  const id = 'ls-1.locate(n:7)';
  const record = { peer: 'ls-1', expires: NOW + 60_000 };
  return withNode('hd-1', chargeOf(id, record), async (calls, host) => {
    assert.equal((await calls.caller.onPeerAnswer(id, 'ls-1', ACK))?.error, undefined);
    const answer = (): Promise<EpsResponse> =>
      calls.receiveAnswer(
        { method: 'hd-1._respond', id: 'hd-1._respond(a)', params: { id, result: 9 } },
        'ls-1',
      );
    assert.deepEqual((await answer()).result, { accepted: true });
    assert.deepEqual((await answer()).result, { accepted: true, duplicate: true });
    assert.equal(host.toOwnBackend.length, 1);
    assert.equal(calls.caller.status(id)?.state, 'done');
  });
});

test('room for the awaited record is held while a marked request is out; an awaited id is not reused', () =>
  withNode('hd-1', 1 << 20, async (calls) => {
    const id = 'ls-1.locate(n:3)';
    const held = calls.admit(id, 'hd-1', 'ls-1', true);
    assert.ok(held, 'a marked request of ours holds room');
    assert.equal(
      calls.admit('ls-1.locate(n:4)', 'hd-1', 'ls-1', false),
      undefined,
      'an unmarked one does not',
    );
    await calls.caller.onPeerAnswer(id, 'ls-1', ACK, held);
    assert.throws(
      () => calls.admit(id, 'hd-1', 'ls-1', true),
      (e: AsyncError) => e.code === 'ERR_ASYNC_ID_IN_USE',
    );
    assert.throws(() => calls.admit(id, 'hd-1', 'ls-1', false), /waiting for an asynchronous answer/);
    const request: EpsRequest = { method: 'ls-1.locate', id, params: { _async: true } };
    const queued = await calls.forwarding.queueRequest(request, 'ls-1');
    assert.equal(queued.error?.data?.code, 'ERR_ASYNC_ID_IN_USE');
    assert.equal(calls.forwarding.outbox.table.size, 0, 'nothing queued');
    assert.equal(calls.caller.status(id)?.state, 'awaiting', 'the first is untouched');
  }));

test('a reservation counts against the bound until it is used or released', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eps-bounds-'));
  const calls = new AsyncCalls('hd-1', settings(dir, { max_entries_per_peer: 1 }), new ManualClock());
  return (async () => {
    calls.attach(new FakeHost('hd-1'));
    await calls.open();
    try {
      const held = calls.admit('ls-1.locate(n:5)', 'hd-1', 'ls-1', true)!;
      assert.throws(
        () => calls.admit('ls-1.locate(n:6)', 'hd-1', 'ls-1', true),
        (e: AsyncError) => e.code === 'ERR_ASYNC_FULL' && /awaited table is full for ls-1/.test(e.message),
      );
      held.release();
      held.release(); // twice is harmless
      calls.admit('ls-1.locate(n:6)', 'hd-1', 'ls-1', true)!.release();
      assert.equal(calls.caller.table.size, 0);
    } finally {
      await calls.close();
      rmSync(dir, { recursive: true, force: true });
    }
  })();
});
