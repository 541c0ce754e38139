/** How `npm run faults` counts (bench/faults/load.ts): failures, "may have been processed", recovery time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recoveryMs, summarise, succeeded, type CallRecord } from '../../bench/faults/load.js';

const ok = (start: number, end: number): CallRecord => ({ start, end, ok: true, maybeProcessed: false });
const failed = (start: number, end: number, maybeProcessed = false): CallRecord => ({
  start,
  end,
  ok: false,
  maybeProcessed,
  error: 'x',
});

test('recovery runs from listening to the end of the first success started after the fault', () => {
  // Fault at 100, the process listens again at 500.
  const calls = [ok(0, 90), ok(95, 510), failed(120, 130), ok(450, 700), ok(520, 600), failed(530, 540)];
  // ok(95, 510) started before the fault: it does not count; ok(520, 600) ends first among the rest.
  assert.equal(recoveryMs(calls, 100, 500), 100);
});

test('no success after the fault: no recovery figure', () => {
  assert.equal(recoveryMs([ok(0, 50), failed(120, 900)], 100, 500), undefined);
});

test('summary counts failures and those that may have been processed', () => {
  const s = summarise([ok(0, 1), failed(1, 2, true), failed(2, 3), ok(3, 4)]);
  assert.deepEqual(s, { calls: 4, failed: 2, maybeProcessed: 1, firstError: 'x' });
});

test('a gateway answer succeeds only as HTTP 200 with a result', () => {
  assert.equal(succeeded({ status: 200, text: '{"jsonrpc":"2.0","result":{},"id":1}' }), true);
  assert.equal(succeeded({ status: 400, text: '{"jsonrpc":"2.0","error":{"code":500},"id":1}' }), false);
  assert.equal(succeeded({ status: 200, text: '{"jsonrpc":"2.0","error":{"code":1},"id":1}' }), false);
});
