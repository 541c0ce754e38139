/**
 * eps_calls_total / eps_call_duration_seconds: calls labelled by peer, method and status, with labels
 * bounded: only operators of the directory and methods the callee declares (or internal ones) become
 * labels; anything a caller invents counts as `other`, and past MAX_CALL_SERIES pairs everything does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newEntry, type DirectoryEntry } from '../../src/core/directory-entry.js';
import { CallMetrics, callStatus, MAX_CALL_SERIES } from '../../src/broker/call-metrics.js';
import { OUTCOMES } from '../../src/core/outcome.js';
import { metricValue } from '../helpers/metric-value.js';
import { fixedDirectory } from '../helpers/fixed-directory.js';

function offering(name: string, methods: string[]): DirectoryEntry {
  return {
    ...newEntry(name),
    services: [
      {
        name: 'svc',
        permissions: [],
        methods: methods.map((m) => ({ name: m, permissions: [], parameters: null })),
      },
    ],
  };
}

const call = (operator: string, method: string, id = '1') => ({
  id: `${operator}.${method}(${id})`,
  method: `${operator}.${method}`,
  params: {},
});

test('a call from a peer is labelled with the peer, the declared method and the status; latency observed', async () => {
  const metrics = new CallMetrics(
    'cm-own',
    fixedDirectory([offering('cm-own', ['add']), newEntry('cm-peer')]),
  );
  const labels = { direction: 'in', peer: 'cm-peer', method: 'add' };
  metrics.record(call('cm-own', 'add'), 'cm-peer', 'ok', performance.now());
  metrics.record(call('cm-own', 'add'), 'cm-peer', 'denied', performance.now());
  assert.equal(await metricValue('eps_calls_total', { ...labels, status: 'ok' }), 1);
  assert.equal(await metricValue('eps_calls_total', { ...labels, status: 'denied' }), 1);
  assert.equal(await metricValue('eps_call_duration_seconds', labels), 2);
  metrics.record(call('cm-peer', '_ping'), 'cm-own', 'ok', performance.now());
  assert.equal(
    await metricValue('eps_calls_total', {
      direction: 'out',
      peer: 'cm-peer',
      method: '_ping',
      status: 'ok',
    }),
    1,
  );
});

test('invented method names, unknown callers and mismatched method fields count as other', async () => {
  const metrics = new CallMetrics(
    'cm2-own',
    fixedDirectory([offering('cm2-own', ['add']), newEntry('cm2-peer')]),
  );
  for (let i = 0; i < 50; i++)
    metrics.record(call('cm2-own', `probe${i}`), 'cm2-peer', 'denied', performance.now());
  metrics.record(call('cm2-own', 'add'), 'cm2-stranger', 'failed', performance.now());
  metrics.record(
    { ...call('cm2-own', 'add'), method: 'cm2-own.other' },
    'cm2-peer',
    'failed',
    performance.now(),
  );
  metrics.record({ id: 'not an id', method: 'x', params: {} }, 'cm2-peer', 'failed', performance.now());
  assert.equal(
    await metricValue('eps_calls_total', { peer: 'cm2-peer', method: 'other', status: 'denied' }),
    50,
  );
  assert.equal(await metricValue('eps_calls_total', { peer: 'other', method: 'add', status: 'failed' }), 1);
  assert.equal(
    await metricValue('eps_calls_total', { peer: 'cm2-peer', method: 'other', status: 'failed' }),
    1,
  );
  assert.equal(await metricValue('eps_calls_total', { peer: 'other', method: 'other', status: 'failed' }), 1);
  for (let i = 0; i < 50; i++) {
    assert.equal(await metricValue('eps_calls_total', { method: `probe${i}` }), 0);
  }
});

test(`at most ${MAX_CALL_SERIES} peer/method pairs get their own series; later ones count as other`, async () => {
  const methods = Array.from({ length: MAX_CALL_SERIES + 20 }, (_, i) => `m${i}`);
  const metrics = new CallMetrics(
    'cm3-own',
    fixedDirectory([offering('cm3-own', methods), newEntry('cm3-peer')]),
  );
  for (const m of methods) metrics.record(call('cm3-own', m), 'cm3-peer', 'ok', performance.now());
  assert.equal(
    await metricValue('eps_calls_total', { peer: 'cm3-peer', method: `m${MAX_CALL_SERIES - 1}` }),
    1,
  );
  assert.equal(await metricValue('eps_calls_total', { peer: 'cm3-peer', method: `m${MAX_CALL_SERIES}` }), 0);
  assert.ok(
    (await metricValue('eps_calls_total', { peer: 'other', method: 'other', direction: 'in' })) >= 20,
  );
});

test('callStatus: ok, error, denied (403), none (no answer), failed (broker error)', () => {
  assert.equal(callStatus({ id: '1', result: {} }), 'ok');
  assert.equal(callStatus({ id: '1', error: { code: 500, message: 'x' } }), 'error');
  assert.equal(
    callStatus({ id: '1', error: { code: OUTCOMES.permissionDenied.jsonRpc, message: 'x' } }),
    'denied',
  );
  assert.equal(callStatus(null), 'none');
  assert.equal(callStatus(undefined), 'failed');
});
