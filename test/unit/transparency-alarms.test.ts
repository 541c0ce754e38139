/**
 * Directory transparency alarms on a manual clock: one per peer and kind per ALARM_INTERVAL_MS, counted in
 * eps_directory_alarms_total, bounded tables; and the placement of a peer's tip against our chain.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ALARM_INTERVAL_MS,
  Alarms,
  MAX_ALARM_PEERS,
  MAX_RECENT_ALARMS,
} from '../../src/transparency/alarms.js';
import { alarmsTotal } from '../../src/transparency/metrics.js';
import { relate, tipFromJson, TipError } from '../../src/transparency/tip.js';
import type { SignedChangeRecord } from '../../src/core/directory-entry.js';
import { ManualClock } from '../helpers/manual-clock.js';

const tip = { size: 3, head: 'a'.repeat(64) };
const alarm = (peer: string, kind: 'withheld' | 'fork' | 'unverifiable' = 'unverifiable') => ({
  kind,
  sd: 'https://sd',
  peer,
  ours: tip,
  theirs: { size: 4, head: 'b'.repeat(64) },
  detail: 'test',
});

async function counted(kind: string): Promise<number> {
  const metric = await alarmsTotal.get();
  return metric.values.find((v) => v.labels.kind === kind)?.value ?? 0;
}

test('one alarm per peer and kind per interval, on the injected clock', async () => {
  const clock = new ManualClock();
  const alarms = new Alarms(clock);
  const before = await counted('unverifiable');
  assert.equal(alarms.raise(alarm('p1')), true);
  assert.equal(alarms.raise(alarm('p1')), false, 'same peer and kind within the interval');
  assert.equal(alarms.raise(alarm('p1', 'fork')), true, 'another kind counts apart');
  assert.equal(alarms.raise(alarm('p2')), true, 'another peer counts apart');
  await clock.advance(ALARM_INTERVAL_MS - 1);
  assert.equal(alarms.raise(alarm('p1')), false);
  await clock.advance(1);
  assert.equal(alarms.raise(alarm('p1')), true, 'again once the interval has passed');
  assert.deepEqual(alarms.totals(), { withheld: 0, fork: 1, unverifiable: 3 });
  assert.equal((await counted('unverifiable')) - before, 3);
  assert.equal(alarms.recent().at(-1)?.at, clock.now());
});

test('the tables stay bounded however many peers raise alarms', () => {
  const alarms = new Alarms(new ManualClock());
  for (let i = 0; i < MAX_ALARM_PEERS * 2; i++) alarms.raise(alarm(`peer-${i}`));
  assert.equal(alarms.trackedPeers, MAX_ALARM_PEERS);
  assert.equal(alarms.recent().length, MAX_RECENT_ALARMS);
  assert.equal(alarms.recent().at(-1)?.peer, `peer-${MAX_ALARM_PEERS * 2 - 1}`);
});

test('a peer tip is placed against our chain; malformed tips are refused', () => {
  const chain = ['1', '2', '3'].map((c) => ({ hash: c.repeat(64) }) as SignedChangeRecord);
  assert.equal(relate(chain, { size: 3, head: '3'.repeat(64) }), 'same');
  assert.equal(relate(chain, { size: 2, head: '2'.repeat(64) }), 'behind');
  assert.equal(relate(chain, { size: 0, head: '' }), 'behind');
  assert.equal(relate(chain, { size: 4, head: '4'.repeat(64) }), 'ahead');
  assert.equal(relate(chain, { size: 2, head: '9'.repeat(64) }), 'diverged');
  assert.equal(relate(chain, { size: 3, head: '9'.repeat(64) }), 'diverged');
  for (const bad of [
    null,
    [],
    { size: -1, head: '' },
    { size: 1.5, head: '' },
    { size: 1, head: 'xyz' },
    { size: 0, head: 'a'.repeat(64) },
    { size: 1, head: 'a'.repeat(64), root: 'not hex' },
  ]) {
    assert.throws(() => tipFromJson(bad), TipError);
  }
  const withRoot = { size: 1, head: 'a'.repeat(64), root: 'b'.repeat(64) };
  assert.deepEqual(tipFromJson(withRoot), withRoot);
});
