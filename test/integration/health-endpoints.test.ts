/**
 * Issue 13, /healthz and /readyz on the metrics listener (real sockets on 127.0.0.1): /healthz answers 200
 * while the process runs; /readyz is 200 only when every check passes, 503 with each failed check and its
 * reason otherwise; a listener that is not up fails its check; a check that never answers is cut off at its
 * timeout, so /readyz does not hang; /metrics still answers.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { MetricsServer } from '../../src/metrics/server.js';
import { Readiness, settingsLoaded } from '../../src/metrics/readiness.js';
import { closeServer, listenOn } from '../../src/net/listen.js';
import { check, getHealth } from '../helpers/health-probe.js';

async function serve(t: TestContext, readiness: Readiness): Promise<number> {
  const metrics = new MetricsServer('127.0.0.1:0', { readiness });
  await metrics.start();
  t.after(() => metrics.stop());
  return (metrics.server.address() as AddressInfo).port;
}

test('readyz follows a real listener: 503 before it listens, 200 while it does, 503 after it closed', async (t) => {
  const readiness = new Readiness();
  settingsLoaded(readiness, 'test settings');
  const listener = net.createServer();
  t.after(() => (listener.listening ? closeServer(listener) : undefined));
  readiness.register('listeners', () => ({
    ok: listener.listening,
    detail: listener.listening ? 'listening' : 'not listening',
  }));
  const port = await serve(t, readiness);

  const before = await getHealth(port, '/readyz');
  assert.equal(before.status, 503);
  assert.equal(before.body.status, 'not ready');
  assert.deepEqual(check(before, 'listeners'), { name: 'listeners', ok: false, detail: 'not listening' });
  assert.equal(check(before, 'settings').ok, true);
  assert.equal((await getHealth(port, '/healthz')).status, 200);

  await listenOn(listener, '127.0.0.1:0');
  const up = await getHealth(port, '/readyz');
  assert.equal(up.status, 200);
  assert.equal(up.body.status, 'ready');
  assert.deepEqual(
    up.body.checks.map((c) => [c.name, c.ok]),
    [
      ['settings', true],
      ['listeners', true],
    ],
  );

  await closeServer(listener);
  assert.equal((await getHealth(port, '/readyz')).status, 503);
});

test('readyz cuts off a check that never answers and reports one that throws', async (t) => {
  const readiness = new Readiness();
  readiness.register('stuck', () => new Promise(() => undefined), { timeoutMs: 50 });
  readiness.register('broken', () => {
    throw new Error('store gone');
  });
  const port = await serve(t, readiness);
  const reply = await getHealth(port, '/readyz');
  assert.equal(reply.status, 503);
  assert.deepEqual(check(reply, 'stuck'), { name: 'stuck', ok: false, detail: 'no answer within 50 ms' });
  assert.deepEqual(check(reply, 'broken'), { name: 'broken', ok: false, detail: 'check failed: store gone' });
});

test('healthz is 200 with the uptime; /metrics still answers; other paths are 404', async (t) => {
  const port = await serve(t, new Readiness());
  const alive = await getHealth(port, '/healthz');
  assert.equal(alive.status, 200);
  assert.equal(alive.body.status, 'alive');
  assert.equal(typeof alive.body.uptime_s, 'number');
  const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /process_cpu_seconds_total/);
  assert.equal((await fetch(`http://127.0.0.1:${port}/status`)).status, 404);
});

test('a readiness registry refuses a name twice', () => {
  const readiness = new Readiness();
  readiness.register('a', () => ({ ok: true, detail: '' }));
  assert.throws(() => readiness.register('a', () => ({ ok: true, detail: '' })), /registered twice/);
});
