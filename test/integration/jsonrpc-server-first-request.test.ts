/**
 * Issue 10, "every listener bounds the unauthenticated", on a JSON-RPC server without TLS (JsonHttpServer
 * over plain HTTP, as the gateway on a private address): a connection that has sent no complete request
 * head is closed at `handshake_timeout` on the server's clock (not 1 ms before), such connections are
 * capped in total and per source address, and a flood of idle connections is closed while a normal client
 * is served (real sockets on 127.0.0.x, manual clock).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { JsonHttpServer, type JsonHttpServerOptions } from '../../src/jsonrpc/http-server.js';
import { sendJson } from '../../src/jsonrpc/write.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { withDeadline } from '../helpers/wait.js';
import {
  AcceptedSockets,
  closedAtTimeout,
  closedSoon,
  probe,
  type Probe,
} from '../helpers/handshake-probe.js';

const DEADLINE_S = 10;
const DEADLINE_MS = DEADLINE_S * 1000;
const BODY = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
const REQUEST = `POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`;

interface Served {
  clock: ManualClock;
  port: number;
  accepted: AcceptedSockets;
}

async function serve(t: TestContext, options: Omit<JsonHttpServerOptions, 'clock'> = {}): Promise<Served> {
  const clock = new ManualClock();
  const http = new JsonHttpServer(
    {
      bind_address: '127.0.0.1:0',
      path: '/jsonrpc',
      max_body_bytes: 1024,
      request_timeout: 60,
      handshake_timeout: DEADLINE_S,
    },
    ({ res }) => sendJson(res, 200, { ok: true }),
    undefined,
    { clock, ...options },
  );
  const accepted = new AcceptedSockets(http.server);
  const { port } = await http.listen();
  t.after(() => {
    accepted.destroyAll();
    return http.close();
  });
  return { clock, port, accepted };
}

/** A normal client: one JSON-RPC POST on a new connection, answered 200 with our handler's body. */
async function served(s: Served, localAddress = '127.0.0.1'): Promise<Probe> {
  const p = await probe(s.port, s.accepted, undefined, localAddress);
  p.client.write(REQUEST);
  const [chunk] = (await withDeadline(once(p.client, 'data'), {
    timeoutMs: 5000,
    what: 'the JSON-RPC answer',
  })) as [Buffer];
  assert.match(chunk.toString(), /^HTTP\/1.1 200[^]*\{"ok":true\}$/);
  return p;
}

test('plain JSON-RPC: a connection that sends nothing is closed at handshake_timeout', async (t) => {
  const s = await serve(t);
  await closedAtTimeout(s.clock, DEADLINE_MS, await probe(s.port, s.accepted), 'silent connection');
});

test('plain JSON-RPC: half a request head is closed at handshake_timeout', async (t) => {
  const s = await serve(t);
  const p = await probe(s.port, s.accepted, Buffer.from('POST /jsonrpc HTTP/1.1\r\nHost: x\r\n'));
  await closedAtTimeout(s.clock, DEADLINE_MS, p, 'half a request head');
});

test('plain JSON-RPC: a served connection is not cut by the first-request deadline', async (t) => {
  const s = await serve(t);
  const p = await served(s);
  t.after(() => p.client.destroy());
  await s.clock.advance(2 * DEADLINE_MS);
  assert.equal(p.server.destroyed, false, 'open after twice the deadline (keep-alive is Node’s to end)');
});

test('plain JSON-RPC: connections without a request over the caps are closed at once', async (t) => {
  const s = await serve(t, { maxHandshaking: 3, maxHandshakingPerAddress: 2 });
  const a = await probe(s.port, s.accepted, undefined, '127.0.0.2');
  const b = await probe(s.port, s.accepted, undefined, '127.0.0.2');
  await closedSoon(await probe(s.port, s.accepted, undefined, '127.0.0.2'), 'third from one address');
  const c = await probe(s.port, s.accepted, undefined, '127.0.0.3');
  await closedSoon(await probe(s.port, s.accepted, undefined, '127.0.0.4'), 'fourth in total');
  assert.equal(a.server.destroyed || b.server.destroyed || c.server.destroyed, false);
  for (const p of [a, b, c]) p.client.destroy();
});

test('plain JSON-RPC: a flood of idle connections is capped per source and closed at the deadline; a client is served meanwhile', async (t) => {
  const caps = { maxHandshaking: 100, maxHandshakingPerAddress: 16 };
  const s = await serve(t, caps);
  const flood: Probe[] = [];
  t.after(() => flood.forEach((p) => p.client.destroy()));
  // 4 attacking addresses × 30 idle connections: 16 held per address, 14 closed on arrival.
  for (let address = 2; address < 6; address++) {
    for (let i = 0; i < 30; i++) flood.push(await probe(s.port, s.accepted, undefined, `127.0.0.${address}`));
  }
  const held = flood.filter((p) => !p.server.destroyed);
  assert.equal(held.length, 4 * caps.maxHandshakingPerAddress, 'idle connections held: the per-address caps');
  await Promise.all(
    flood.filter((p) => p.server.destroyed).map((p) => closedSoon(p, 'a connection over a cap')),
  );
  const during = await served(s);
  during.client.destroy();
  await s.clock.advance(DEADLINE_MS - 1);
  assert.equal(held.filter((p) => p.server.destroyed).length, 0, 'none closed 1 ms before the deadline');
  await s.clock.advance(1);
  await Promise.all(held.map((p) => closedSoon(p, 'an idle connection at the deadline')));
  const after = await served(s, '127.0.0.2');
  after.client.destroy();
});
