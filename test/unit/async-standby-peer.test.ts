/**
 * What another operator's eps receives from an instance that is losing its lease (async/lease-keeper.ts):
 * never an answer its outbox would take as delivered. A store refusing writes with ERR_ASYNC_STANDBY makes
 * a marked request "try later", and a peer answering ERR_ASYNC_STANDBY leaves the message in our outbox.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsyncCalls } from '../../src/async/async-calls.js';
import { BoundedTable, peerKey } from '../../src/async/bounded-table.js';
import { standbyError } from '../../src/async/lease-keeper.js';
import { Received } from '../../src/async/received.js';
import { decodePending, decodeReceived } from '../../src/async/records.js';
import { MemoryTableStore } from '../../src/async/table-store.js';
import { TtlPolicy } from '../../src/async/ttl.js';
import type { JsonObject } from '../../src/core/json.js';
import { FakeHost, settings } from '../helpers/async-fake-host.js';
import { ManualClock } from '../helpers/manual-clock.js';

/** A store whose writes are refused as by a keeper whose lease was not renewed in time. */
class LosingStore extends MemoryTableStore {
  standby = false;

  override async put(key: string, value: JsonObject): Promise<void> {
    if (this.standby) throw standbyError('the lease has not been renewed in time');
    await super.put(key, value);
  }
}

/** The received table of a callee in `store` (its pending table in memory). */
function receivedOver(store: LosingStore): Received {
  const limits = settings('');
  return new Received(
    new BoundedTable('received', store, limits, decodeReceived),
    new BoundedTable('pending', new MemoryTableStore(), limits, decodePending),
    new TtlPolicy(60, 3600),
    new ManualClock(),
  );
}

test('a marked request whose arrival cannot be recorded (standby meanwhile) is "try later", not ERR_ASYNC_STANDBY', async () => {
  const store = new LosingStore();
  const received = receivedOver(store);
  await received.table.load();
  store.standby = true;
  const refused = await received.begin('ls-1.x(1)', 'hd-1', { _async: { ttl: 10 } });
  // The sender's outbox keeps a "try later" and sends it again (to the active instance).
  assert.equal(refused?.error?.data?.code, 'ERR_ASYNC_TRY_LATER', JSON.stringify(refused));
  store.standby = false;
  assert.equal(await received.begin('ls-1.x(1)', 'hd-1', { _async: { ttl: 10 } }), undefined);
});

test('a queued request a standby peer answers with ERR_ASYNC_STANDBY stays queued and is sent again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eps-standby-peer-'));
  const clock = new ManualClock();
  const host = new FakeHost('hd-1');
  const calls = new AsyncCalls('hd-1', settings(dir), clock);
  calls.attach(host);
  try {
    await calls.open();
    host.unreachable = true;
    const request = { method: 'ls-1.locate', id: 'ls-1.locate(n:1)', params: { q: 1 } };
    await calls.forwarding.queueRequest(request, 'ls-1');
    host.unreachable = false;
    host.answer = (r) => standbyError('standby: held by host=b pid=2').toResponse(r.id);
    await clock.advance(1_000);
    assert.equal(host.sent.length, 1);
    assert.equal(calls.forwarding.outbox.table.size, 1, 'not taken as delivered');
    assert.equal(host.toOwnBackend.length, 0, 'no answer handed to our backend');
    host.answer = (r) => ({ id: r.id, result: { _async: true } });
    await clock.advance(8_000);
    assert.equal(calls.forwarding.outbox.table.size, 0);
    assert.equal(calls.caller.status('ls-1.locate(n:1)')?.state, 'awaiting');
  } finally {
    await calls.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an answer the store refuses to keep (standby meanwhile) is not taken as too large to keep', async () => {
  const store = new LosingStore();
  const received = receivedOver(store);
  await received.table.load();
  assert.equal(await received.begin('ls-1.x(1)', 'hd-1', { _async: { ttl: 10 } }), undefined);
  store.standby = true;
  // No `lost` record tried (that put would be refused too): a repeat is redelivered, not ERR_ASYNC_NOT_KEPT.
  await received.finish('ls-1.x(1)', 'hd-1', { id: 'ls-1.x(1)', result: { ok: 1 } });
  const record = received.table.get(peerKey('hd-1', 'ls-1.x(1)'));
  assert.equal(record?.lost, undefined);
  assert.equal(record?.taken, true);
});
