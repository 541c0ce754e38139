/**
 * Issue 13, the periodic re-read of a proxy's announcement store (src/proxy/shared/store-sync.ts) on a
 * manual clock: the load counts as a good read, a failing re-read keeps the last good time and records the
 * error (what /readyz reports), a later good read clears it, reads never overlap while the store hangs,
 * and stop() ends them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DataEntry, Datastore } from '../../src/datastore/datastore.js';
import { AnnouncementStore } from '../../src/proxy/shared/announcement-store.js';
import { AnnouncementTable } from '../../src/proxy/shared/announcements.js';
import { AnnouncementSync } from '../../src/proxy/shared/store-sync.js';
import { ManualClock } from '../helpers/manual-clock.js';

/** A datastore whose reads answer what the test scripts: entries, a failure, or a hang. */
class ScriptedStore implements Datastore {
  reads = 0;
  next: 'ok' | 'fail' | 'hang' = 'ok';
  private release: (() => void) | undefined;

  open(): Promise<void> {
    return Promise.resolve();
  }
  append(): Promise<void> {
    return Promise.resolve();
  }
  appendIfCount(): Promise<boolean> {
    return Promise.resolve(true);
  }
  readNew(): Promise<DataEntry[]> {
    this.reads += 1;
    if (this.next === 'fail') return Promise.reject(new Error('connection refused'));
    if (this.next === 'hang') return new Promise((resolve) => (this.release = () => resolve([])));
    return Promise.resolve([]);
  }
  /** Ends a hanging read. */
  answer(): void {
    this.release?.();
    this.release = undefined;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function setUp(): { clock: ManualClock; data: ScriptedStore; sync: AnnouncementSync } {
  const clock = new ManualClock();
  const data = new ScriptedStore();
  const store = new AnnouncementStore(data, new AnnouncementTable('private', 10));
  return { clock, data, sync: new AnnouncementSync(store, 1_000, clock) };
}

test('the load is a good read; a failure keeps the last good time with the error; a good read clears it', async () => {
  const { clock, data, sync } = setUp();
  assert.deepEqual(sync.health(), { okAt: 0, error: '' });
  await sync.load();
  const loadedAt = clock.now();
  assert.deepEqual(sync.health(), { okAt: loadedAt, error: '' });
  sync.start();
  data.next = 'fail';
  await clock.advance(1_000);
  assert.equal(data.reads, 2);
  assert.deepEqual(sync.health(), { okAt: loadedAt, error: 'connection refused' });
  data.next = 'ok';
  await clock.advance(1_000);
  assert.deepEqual(sync.health(), { okAt: clock.now(), error: '' });
  sync.stop();
  await clock.advance(10_000);
  assert.equal(data.reads, 3, 'no read after stop()');
  assert.equal(clock.pending, 0);
});

test('a hanging store gets no second read until the first one ends', async () => {
  const { clock, data, sync } = setUp();
  await sync.load();
  const loadedAt = clock.now();
  sync.start();
  data.next = 'hang';
  await clock.advance(10_000);
  assert.equal(data.reads, 2, 'one read started, none piled up');
  assert.deepEqual(sync.health(), { okAt: loadedAt, error: '' }, 'the last good read just grows old');
  data.next = 'ok';
  data.answer();
  await clock.advance(1_000);
  assert.equal(data.reads, 3);
  assert.deepEqual(sync.health(), { okAt: clock.now(), error: '' });
  sync.stop();
});
