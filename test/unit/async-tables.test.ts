/**
 * The tables of asynchronous calls without sockets: the file journal (durable, torn tail repaired), the
 * bounds, and both sides of the protocol on a manual clock with a fake broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileTableStore } from '../../src/async/file-table-store.js';
import { BoundedTable } from '../../src/async/bounded-table.js';
import { decodePending } from '../../src/async/records.js';
import { AsyncCalls } from '../../src/async/async-calls.js';
import { AsyncError } from '../../src/async/errors.js';
import type { EpsResponse } from '../../src/core/messages.js';
import { FakeHost, settings } from '../helpers/async-fake-host.js';
import { unboundedScope } from '../../src/core/cancellation.js';
import { ManualClock } from '../helpers/manual-clock.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'eps-async-'));
}

const ACK: EpsResponse = { id: 'x', result: { _async: true, queued: 1 } };

test('file journal: records survive a reopen; a torn last line is dropped and repaired', async () => {
  const dir = tempDir();
  try {
    const path = join(dir, 'sub', 't.jsonl');
    const store = new FileTableStore(path);
    assert.equal((await store.load()).size, 0);
    await store.put('a', { peer: 'p', n: 1 });
    await store.put('b', { peer: 'p', n: 2 });
    await store.delete('a');
    appendFileSync(path, '{"k":"c","v":{"pe'); // a crash in the middle of an append
    const reopened = new FileTableStore(path);
    assert.deepEqual([...(await reopened.load())], [['b', { peer: 'p', n: 2 }]]);
    assert.ok(readFileSync(path, 'utf8').endsWith('\n'), 'the journal was rewritten without the torn line');
    assert.equal(readFileSync(path, 'utf8').split('\n').length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a full table refuses with ERR_ASYNC_FULL and changes nothing (entries, per peer, bytes)', async () => {
  const dir = tempDir();
  try {
    const limits = { max_entries: 3, max_bytes: 400, max_entries_per_peer: 2, max_bytes_per_peer: 400 };
    const table = new BoundedTable('pending', new FileTableStore(join(dir, 't')), limits, decodePending);
    const rec = (peer: string) => ({ peer, method: 'm.x', expires: 1 });
    await table.put('1', rec('a'));
    await table.put('2', rec('a'));
    await assert.rejects(
      table.put('3', rec('a')),
      (e: AsyncError) => e.code === 'ERR_ASYNC_FULL' && /for a/.test(e.message),
    );
    await table.put('3', rec('b'));
    await assert.rejects(table.put('4', rec('c')), (e: AsyncError) => e.code === 'ERR_ASYNC_FULL');
    await assert.rejects(
      table.put('3', { ...rec('b'), method: 'x'.repeat(400) }),
      (e: AsyncError) => e.code === 'ERR_ASYNC_FULL',
    );
    assert.equal(table.size, 3);
    const reloaded = new BoundedTable('pending', new FileTableStore(join(dir, 't')), limits, decodePending);
    await reloaded.load();
    assert.deepEqual(
      [...reloaded.entries()].map(([k, r]) => [k, r.value.peer]),
      [
        ['1', 'a'],
        ['2', 'a'],
        ['3', 'b'],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('callee side: pending across a restart, answered once, unknown and expired ids refused', async () => {
  const dir = tempDir();
  const clock = new ManualClock();
  try {
    const first = new AsyncCalls('ls-1', settings(dir), clock);
    first.attach(new FakeHost('ls-1'));
    await first.open();
    const acked = await first.callee.onBackendAnswer('ls-1.locate(n:1)', 'hd-1', 'ls-1.locate', ACK);
    assert.deepEqual(acked?.result?._async, { ttl: 60, request: 'ls-1.locate(n:1)' });
    assert.equal(acked?.result?.queued, 1);
    await first.close();

    const host = new FakeHost('ls-1');
    const second = new AsyncCalls('ls-1', settings(dir), clock);
    second.attach(host);
    await second.open();
    assert.throws(
      () => second.callee.refuseIfPending('ls-1.locate(n:1)', 'hd-1'),
      /waiting for an asynchronous answer/,
    );
    // Another operator's plain call with the same id is not refused (and learns nothing)...
    second.callee.refuseIfPending('ls-1.locate(n:1)', 'op-1');
    // ...and its own asynchronous request under that id is pending beside hd-1's, not instead of it.
    const other = await second.callee.onBackendAnswer('ls-1.locate(n:1)', 'op-1', 'ls-1.locate', ACK);
    assert.deepEqual(other?.result?._async, { ttl: 60, request: 'ls-1.locate(n:1)' });
    assert.equal(second.callee.status('ls-1.locate(n:1)', 'hd-1')?.caller, 'hd-1');
    assert.deepEqual(second.callee.status('ls-1.locate(n:1)'), {
      state: 'several',
      callers: ['hd-1', 'op-1'],
    });
    const which = await second.respond('ls-1.locate(n:1)', { result: 0 }, unboundedScope());
    assert.equal(which.error?.data?.code, 'ERR_ASYNC_INVALID', 'two callers wait: respond names one');
    assert.match(which.error?.message ?? '', /hd-1, op-1.*params\.caller/);
    const ok = await second.respond(
      'ls-1.locate(n:1)',
      { result: { lat: 1 }, caller: 'hd-1' },
      unboundedScope(),
    );
    assert.deepEqual(ok.result, { delivered: true, caller: 'hd-1' });
    assert.equal(second.callee.status('ls-1.locate(n:1)', 'op-1')?.state, 'pending', "op-1's is untouched");
    // The only request still waiting under n:1 is op-1's: respond without a caller means it.
    const last = await second.respond('ls-1.locate(n:1)', { result: 5 }, unboundedScope());
    assert.deepEqual(last.result, { delivered: true, caller: 'op-1' });
    assert.equal(host.sent.length, 2);
    assert.equal(host.sent[0]!.method, 'hd-1._respond');
    assert.match(host.sent[0]!.id, /^hd-1\._respond\([0-9a-f]{32}\)$/);
    assert.deepEqual(host.sent[0]!.params, { id: 'ls-1.locate(n:1)', result: { lat: 1 } });

    const twice = await second.respond('ls-1.locate(n:1)', { result: 2, caller: 'hd-1' }, unboundedScope());
    assert.equal(twice.error?.data?.code, 'ERR_ASYNC_ALREADY_ANSWERED');
    const unknown = await second.respond('ls-1.locate(n:2)', { result: 2 }, unboundedScope());
    assert.equal(unknown.error?.data?.code, 'ERR_ASYNC_UNKNOWN_ID');
    await second.callee.onBackendAnswer('ls-1.locate(n:3)', 'hd-1', 'ls-1.locate', ACK);
    await clock.advance(60_000);
    const late = await second.respond('ls-1.locate(n:3)', { result: 3 }, unboundedScope());
    assert.equal(late.error?.data?.code, 'ERR_ASYNC_EXPIRED');
    host.confirm = false;
    await second.callee.onBackendAnswer('ls-1.locate(n:4)', 'hd-1', 'ls-1.locate', ACK);
    const unconfirmed = await second.respond('ls-1.locate(n:4)', { result: 4 }, unboundedScope());
    assert.equal(unconfirmed.error?.data?.code, 'ERR_ASYNC_NOT_CONFIRMED');
    assert.equal(second.callee.status('ls-1.locate(n:4)')?.state, 'pending', 'nothing changed');
    assert.equal(host.sent.length, 3);
    await second.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('caller side: only the callee may answer, once to the backend with the original id; expiry is an error', async () => {
  const dir = tempDir();
  const clock = new ManualClock();
  try {
    const host = new FakeHost('hd-1');
    const calls = new AsyncCalls('hd-1', settings(dir), clock);
    calls.attach(host);
    await calls.open();
    await calls.caller.onPeerAnswer('ls-1.locate(n:7)', 'ls-1', ACK);
    const answer = (sender: string, id = 'ls-1.locate(n:7)') =>
      calls.receiveAnswer(
        { method: 'hd-1._respond', id: 'hd-1._respond(a)', params: { id, result: 9 } },
        sender,
      );

    assert.equal((await answer('op-1')).error?.data?.code, 'ERR_ASYNC_NOT_RECIPIENT');
    assert.equal((await answer('ls-1', 'ls-1.locate(n:8)')).error?.data?.code, 'ERR_ASYNC_UNKNOWN_ID');
    assert.deepEqual((await answer('ls-1')).result, { accepted: true });
    assert.deepEqual((await answer('ls-1')).result, { accepted: true, duplicate: true });
    assert.equal(host.toOwnBackend.length, 1);
    assert.equal(host.toOwnBackend[0]!.jsonRpcId, 7);
    assert.equal(host.toOwnBackend[0]!.method, 'hd-1.respond');
    assert.equal(host.toOwnBackend[0]!.params.result, 9);

    await calls.caller.onPeerAnswer('ls-1.locate(late)', 'ls-1', { id: 'x', result: { _async: { ttl: 5 } } });
    await clock.advance(5_000);
    await calls.sweep();
    assert.equal(host.toOwnBackend.length, 2);
    assert.equal(host.toOwnBackend[1]!.jsonRpcId, 'late');
    assert.match(
      String((host.toOwnBackend[1]!.params.error as { message: string }).message),
      /no answer from ls-1/,
    );
    const late = await answer('ls-1', 'ls-1.locate(late)');
    assert.equal(late.error?.data?.code, 'ERR_ASYNC_EXPIRED', 'a late answer is refused, not delivered');
    assert.equal(host.toOwnBackend.length, 2);
    await calls.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
