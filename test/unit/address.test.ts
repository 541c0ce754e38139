import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddress } from '../../src/core/address.js';

// The examples of docs/protocol.md#addressed-ids, and more.
const valid: [string, string, string, string][] = [
  ['ls-1.add(1)', 'ls-1', 'add', '1'],
  ['ls-1.add(n:1)', 'ls-1', 'add', 'n:1'],
  ['public-proxy-1.ga.requestConnection(abcd)', 'public-proxy-1.ga', 'requestConnection', 'abcd'],
  ['a.b.c.d.e.f(acdds)', 'a.b.c.d.e', 'f', 'acdds'],
  ['normal-name.f(acdds)', 'normal-name', 'f', 'acdds'],
  ['ls-1.add(a.b)', 'ls-1', 'add', 'a.b'],
  ['ls-1.add(a(b)', 'ls-1', 'add', 'a(b'],
  ['a.b.c(d.e(f)', 'a.b.c(d', 'e', 'f'],
  ['.add(1)', '', 'add', '1'],
  ['ls 1.a d(  )', 'ls 1', 'a d', '  '],
];

const invalid = [
  'ls-1.add()',
  'ls-1.add(a)b)',
  'add(1)',
  'respond(ls-1.add(1))',
  'x.y(z)(w)',
  'ls-1.add(1)\n',
  '',
];

test('valid addressed IDs parse as the original does', () => {
  for (const [id, operator, method, localId] of valid) {
    assert.deepEqual(parseAddress(id), { operator, method, localId }, id);
  }
});

test('invalid addressed IDs are rejected with "invalid ID format"', () => {
  for (const id of invalid) {
    assert.throws(() => parseAddress(id), /invalid ID format/, JSON.stringify(id));
  }
});
