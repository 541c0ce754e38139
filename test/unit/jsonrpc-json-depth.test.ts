import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from '../../src/jsonrpc/json-depth.js';
import { extractRequest } from '../../src/jsonrpc/extract.js';
import { decodeReply } from '../../src/jsonrpc/client.js';

const nested = (depth: number, open = '[', close = ']'): string => open.repeat(depth) + close.repeat(depth);

test('the exact limit passes, one level more does not', () => {
  assert.equal(exceedsJsonDepth(nested(3), 3), false);
  assert.equal(exceedsJsonDepth(nested(4), 3), true);
  assert.equal(exceedsJsonDepth(nested(MAX_JSON_DEPTH)), false);
  assert.equal(exceedsJsonDepth(nested(MAX_JSON_DEPTH + 1)), true);
  // Objects and arrays count alike; siblings do not add up.
  assert.equal(exceedsJsonDepth('{"a":[{"b":[]}]}', 4), false);
  assert.equal(exceedsJsonDepth('{"a":[{"b":[{}]}]}', 4), true);
  assert.equal(exceedsJsonDepth('[[],[],[[]],[]]', 3), false);
  assert.equal(exceedsJsonDepth('[[],[],[[]],[]]', 2), true);
  assert.equal(exceedsJsonDepth('[[],[],[[[]]],[]]', 3), true);
});

test('brackets inside strings do not count, escaped quotes do not end a string', () => {
  assert.equal(exceedsJsonDepth(`{"a":"${nested(100)}"}`, 1), false);
  assert.equal(exceedsJsonDepth(`{"a":"\\"[[[[","b":1}`, 1), false);
  assert.equal(exceedsJsonDepth(`["\\\\",[[]]]`, 2), true); // an escaped backslash, then the string ends
  assert.equal(exceedsJsonDepth(`["\\\\",[[]]]`, 3), false);
  assert.equal(exceedsJsonDepth(`{"k\\u0022[[":[]}`, 2), false);
  assert.equal(exceedsJsonDepth('', 1), false);
  assert.equal(exceedsJsonDepth(nested(2_000_000), MAX_JSON_DEPTH), true);
});

test('a request nested too deep gets a named JSON-RPC error, one within the limit is served', () => {
  const request = (depth: number): Buffer =>
    Buffer.from(`{"jsonrpc":"2.0","method":"a.b","params":{"a":${nested(depth)}}}`);
  // params itself and the outer object are two levels.
  assert.equal(extractRequest('application/json', request(MAX_JSON_DEPTH - 2)).ok, true);
  const r = extractRequest('application/json', request(100_000));
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.status, 400);
    assert.equal(r.body.jsonrpc, '2.0');
    assert.equal(r.body.error?.code, -32600);
    assert.equal(
      r.body.error?.message,
      `invalid request: JSON nested too deep (limit ${MAX_JSON_DEPTH} levels)`,
    );
  }
});

test('the JSON-RPC client refuses a reply nested too deep', () => {
  assert.throws(
    () => decodeReply(Buffer.from(`{"jsonrpc":"2.0","result":${nested(100_000)},"id":"1"}`)),
    /response nested too deep \(limit 64 levels\)/,
  );
  assert.deepEqual(decodeReply(Buffer.from('{"jsonrpc":"2.0","result":[[1]],"id":"1"}')).result, [[1]]);
});
