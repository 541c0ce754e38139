import { test } from 'node:test';
import assert from 'node:assert/strict';
import { denormaliseId, normaliseId } from '../../src/jsonrpc/ids.js';

test('integer ids become n:N and come back as numbers (checklist 7)', () => {
  assert.equal(normaliseId(1), 'n:1');
  assert.equal(normaliseId(-5), 'n:-5');
  assert.equal(denormaliseId('n:1'), 1);
  assert.equal(denormaliseId('n:01'), 1);
});

test('n-prefixed strings get their n run doubled and halved back (checklist 8)', () => {
  assert.equal(normaliseId('n:1'), 'nn:1');
  assert.equal(denormaliseId('nn:1'), 'n:1');
  assert.equal(normaliseId('nnn:7'), 'nnnnnn:7');
  assert.equal(denormaliseId('nnnnnn:7'), 'nnn:7');
  assert.equal(denormaliseId('nnn:1'), 'nnn:1');
  assert.equal(denormaliseId('nnnn:-5'), 'nn:-5');
  assert.equal(denormaliseId('n:99999999999999999999'), 'n:99999999999999999999');
});

test('other strings round-trip unchanged', () => {
  for (const id of ['1', 'abc', 'n:', 'n:x', 'nx:1']) assert.equal(denormaliseId(normaliseId(id)), id);
});

test('missing, null and empty ids become 32 lowercase hex characters (checklist 9)', () => {
  for (const id of [undefined, null, '']) assert.match(normaliseId(id), /^[0-9a-f]{32}$/);
  assert.notEqual(normaliseId(undefined), normaliseId(undefined));
});
