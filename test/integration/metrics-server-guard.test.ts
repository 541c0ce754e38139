/**
 * Issue 10, "every listener bounds the unauthenticated", on the metrics listener (plain HTTP): a
 * connection that sends no request is closed at the deadline on the server's clock (not 1 ms before),
 * connections without a request are capped in total and per source address, and a scrape is answered
 * and not cut by the deadline (real sockets on 127.0.0.x, manual clock).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { MetricsServer } from '../../src/metrics/server.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { withDeadline } from '../helpers/wait.js';
import { AcceptedSockets, closedAtTimeout, closedSoon, probe } from '../helpers/handshake-probe.js';

const DEADLINE_MS = 10_000;

async function serve(
  t: TestContext,
  caps: { maxHandshaking?: number; maxHandshakingPerAddress?: number } = {},
): Promise<{ clock: ManualClock; port: number; accepted: AcceptedSockets }> {
  const clock = new ManualClock();
  const metrics = new MetricsServer('127.0.0.1:0', {
    clock,
    unfinished: { timeoutMs: DEADLINE_MS, ...caps },
  });
  const accepted = new AcceptedSockets(metrics.server);
  await metrics.start();
  t.after(() => {
    accepted.destroyAll();
    return metrics.stop();
  });
  return { clock, port: (metrics.server.address() as AddressInfo).port, accepted };
}

test('metrics: a connection that sends no request is closed at the deadline', async (t) => {
  const s = await serve(t);
  await closedAtTimeout(s.clock, DEADLINE_MS, await probe(s.port, s.accepted), 'silent connection');
});

test('metrics: half a request line is closed at the deadline too', async (t) => {
  const s = await serve(t);
  const p = await probe(s.port, s.accepted, Buffer.from('GET /metr'));
  await closedAtTimeout(s.clock, DEADLINE_MS, p, 'half a request');
});

test('metrics: a scrape is answered and its connection is not cut by the deadline', async (t) => {
  const s = await serve(t);
  const client = net.connect(s.port, '127.0.0.1');
  client.on('error', () => undefined);
  t.after(() => client.destroy());
  await once(client, 'connect');
  const server = await s.accepted.next();
  client.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
  const [chunk] = (await withDeadline(once(client, 'data'), {
    timeoutMs: 5000,
    what: 'the metrics answer',
  })) as [Buffer];
  assert.match(chunk.toString(), /^HTTP\/1.1 200/);
  await s.clock.advance(2 * DEADLINE_MS);
  assert.equal(server.destroyed, false, 'open after twice the deadline (keep-alive is Node’s to end)');
});

test('metrics: connections without a request over the caps are closed at once', async (t) => {
  const s = await serve(t, { maxHandshaking: 3, maxHandshakingPerAddress: 2 });
  const a = await probe(s.port, s.accepted, undefined, '127.0.0.2');
  const b = await probe(s.port, s.accepted, undefined, '127.0.0.2');
  await closedSoon(await probe(s.port, s.accepted, undefined, '127.0.0.2'), 'third from one address');
  const c = await probe(s.port, s.accepted, undefined, '127.0.0.3');
  await closedSoon(await probe(s.port, s.accepted, undefined, '127.0.0.4'), 'fourth in total');
  assert.equal(a.server.destroyed || b.server.destroyed || c.server.destroyed, false);
  for (const p of [a, b, c]) p.client.destroy();
});
