/**
 * The key names of a Redis store of asynchronous calls (async/redis-keys.ts): the lease and the tables of
 * one eps instance share a Redis Cluster slot (a write script reads the lease and writes a table), also
 * when the configured key or the eps name holds braces; names that cannot share one are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { storeKeys } from '../../src/async/redis-keys.js';

/** Redis Cluster's slot of a key (the library ioredis' Cluster uses for routing). */
const keySlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

const TABLES = ['pending', 'awaited', 'outbox', 'received'];

test('the lease and the tables are named <key>:{<eps name>}.<suffix>', () => {
  const keys = storeKeys('eps-async', 'hd-1');
  assert.equal(keys.lease, 'eps-async:{hd-1}.lease');
  assert.equal(keys.table('pending'), 'eps-async:{hd-1}.pending');
});

test('the lease and the tables of one instance share a slot, whatever braces the names hold', () => {
  for (const [key, name] of [
    ['eps-async', 'hd-1'],
    ['entries', 'ls-1'],
    ['eps{tenant-a}', 'hd-1'],
    ['eps{', 'hd-1'],
    ['eps}', 'hd-1'],
    ['e}p{s', 'hd-1'],
    ['', 'hd-1'],
    ['eps', 'hd}1'],
    ['eps', '{hd-1}'],
  ]) {
    const keys = storeKeys(key!, name!);
    const slot = keySlot(keys.lease);
    for (const table of TABLES)
      assert.equal(keySlot(keys.table(table)), slot, `${keys.table(table)} and ${keys.lease}`);
  }
  // Instances of different names are spread over slots (the tag is the name, not a constant).
  assert.notEqual(keySlot(storeKeys('eps', 'hd-1').lease), keySlot(storeKeys('eps', 'ls-1').lease));
});

test('names whose first "{" is directly followed by "}" are refused (they would not share a slot)', () => {
  for (const [key, name] of [
    ['eps{}', 'hd-1'],
    ['a{}b{c}', 'hd-1'],
    ['eps', '}hd-1'],
  ])
    assert.throws(() => storeKeys(key!, name!), {
      code: 'ERR_DATASTORE_REDIS',
      message: /different slots; change async\.store\.settings\.key/,
    });
});
