/**
 * Issue 13, what the status page shows of the store of asynchronous calls (src/async/observed-store.ts):
 * on a manual clock, the time of the last operation the store answered and the last error; a failure
 * keeps the last answer's time and is cleared by the next answer; the probe (readiness PING) counts too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../src/core/json.js';
import { ObservedTableStore, StoreWatch } from '../../src/async/observed-store.js';
import { MemoryTableStore, type TableStore } from '../../src/async/table-store.js';
import { AsyncCalls } from '../../src/async/async-calls.js';
import { asyncSettingsSchema } from '../../src/settings/eps-schema.js';
import { ManualClock } from '../helpers/manual-clock.js';

/** A memory store whose writes and probe fail while `down`. */
class FlakyStore extends MemoryTableStore implements TableStore {
  down = false;
  override async put(key: string, value: JsonObject): Promise<void> {
    if (this.down) throw new Error('connection refused');
    await super.put(key, value);
  }
  async probe(): Promise<void> {
    if (this.down) throw new Error('ping: connection refused');
  }
}

test('the last answer and the last error of a watched store', async () => {
  const clock = new ManualClock();
  const watch = new StoreWatch(clock);
  const inner = new FlakyStore();
  const store = new ObservedTableStore(inner, watch);
  assert.deepEqual(watch.last(), { okAt: 0, error: '' });
  await store.load();
  const loadedAt = clock.now();
  assert.deepEqual(watch.last(), { okAt: loadedAt, error: '' });
  await clock.advance(5_000);
  inner.down = true;
  await assert.rejects(store.put('k', { a: 1 }), /connection refused/);
  assert.deepEqual(watch.last(), { okAt: loadedAt, error: 'connection refused' });
  await assert.rejects(store.probe!(), /ping: connection refused/);
  assert.deepEqual(watch.last(), { okAt: loadedAt, error: 'ping: connection refused' });
  inner.down = false;
  await clock.advance(1_000);
  await store.probe!();
  assert.deepEqual(watch.last(), { okAt: clock.now(), error: '' });
  assert.equal(
    new ObservedTableStore(new MemoryTableStore(), watch).probe,
    undefined,
    'a local store has no probe',
  );
});

test("AsyncCalls.storeStatus: the store's description, last answer and its age", async () => {
  const clock = new ManualClock(Date.UTC(2026, 11, 3, 12, 0, 0));
  const calls = new AsyncCalls('hd-1', asyncSettingsSchema.parse({ store: { type: 'memory' } }), clock);
  assert.deepEqual(calls.storeStatus(), {
    description: 'memory',
    last_answer: null,
    age_s: null,
    error: null,
  });
  await calls.open();
  await clock.advance(2_500);
  assert.deepEqual(calls.storeStatus(), {
    description: 'memory',
    last_answer: '2026-12-03T12:00:00.000Z',
    age_s: 2.5,
    error: null,
  });
  await calls.close();
});
