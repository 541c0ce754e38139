/**
 * Issue 10, finding 3 on the JSON-RPC gateway (JsonHttpServer over TLS): connections that never finish the
 * TLS handshake are closed at `handshake_timeout` on the server's clock (Node's default left them open
 * 120 s), a failed handshake at once, a finished one is served, and connections still handshaking are
 * capped in total and per source address (real sockets on 127.0.0.x, manual clock).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import tls from 'node:tls';
import { join } from 'node:path';
import { JsonHttpServer, type JsonHttpServerOptions } from '../../src/jsonrpc/http-server.js';
import { sendJson } from '../../src/jsonrpc/write.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { CERTS } from '../helpers/network.js';
import { withDeadline } from '../helpers/wait.js';
import {
  AcceptedSockets,
  closedAtTimeout as closedAtHandshakeTimeout,
  closedSoon,
  GARBAGE,
  halfClientHello,
  probe,
  type Probe,
} from '../helpers/handshake-probe.js';

const HANDSHAKE_S = 10;
const HANDSHAKE_MS = HANDSHAKE_S * 1000;

interface Served {
  clock: ManualClock;
  port: number;
  accepted: AcceptedSockets;
  http: JsonHttpServer;
}

async function serve(t: TestContext, options: Omit<JsonHttpServerOptions, 'clock'> = {}): Promise<Served> {
  const clock = new ManualClock();
  const http = new JsonHttpServer(
    {
      bind_address: '127.0.0.1:0',
      path: '/jsonrpc',
      tls: {
        ca_certificate_files: [join(CERTS, 'root.crt')],
        certificate_file: join(CERTS, 'hd-1.crt'),
        key_file: join(CERTS, 'hd-1.key'),
        verify_client: false,
      },
      max_body_bytes: 1024,
      request_timeout: 60,
      handshake_timeout: HANDSHAKE_S,
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
  return { clock, port, accepted, http };
}

function closedAtTimeout(s: Served, p: Probe, what: string): Promise<void> {
  return closedAtHandshakeTimeout(s.clock, HANDSHAKE_MS, p, what);
}

test('gateway: a connection that sends nothing is closed at the handshake timeout', async (t) => {
  const s = await serve(t);
  await closedAtTimeout(s, await probe(s.port, s.accepted), 'silent connection');
});

test('gateway: a connection that sends half a ClientHello is closed at the handshake timeout', async (t) => {
  const s = await serve(t);
  await closedAtTimeout(s, await probe(s.port, s.accepted, await halfClientHello()), 'half ClientHello');
});

test('gateway: garbage instead of a ClientHello is closed at once', async (t) => {
  const s = await serve(t);
  await closedSoon(await probe(s.port, s.accepted, GARBAGE), 'the garbage connection to close');
});

test('gateway: a finished handshake is served and not closed by the handshake deadline', async (t) => {
  const s = await serve(t);
  const secured = withDeadline(once(s.http.server, 'secureConnection'), {
    timeoutMs: 5000,
    what: 'the handshake',
  });
  // A client that knows the server (the test checks the server, not the client's verification).
  const client = tls.connect({ host: '127.0.0.1', port: s.port, rejectUnauthorized: false });
  client.on('error', () => undefined);
  t.after(() => client.destroy());
  const server = await s.accepted.next();
  await secured;
  await s.clock.advance(2 * HANDSHAKE_MS);
  assert.equal(server.destroyed, false, 'open after twice the handshake timeout');
  const body = JSON.stringify({ jsonrpc: '2.0', method: 'x', id: 1 });
  client.write(
    `POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  const [reply] = (await withDeadline(once(client, 'data'), { timeoutMs: 5000, what: 'the answer' })) as [
    Buffer,
  ];
  assert.match(reply.toString(), /^HTTP\/1\.1 200 /);
});

test('gateway: handshaking connections over the per-address cap are closed at once', async (t) => {
  const s = await serve(t, { maxHandshaking: 10, maxHandshakingPerAddress: 2 });
  const a = await probe(s.port, s.accepted, undefined, '127.0.0.2');
  const b = await probe(s.port, s.accepted, undefined, '127.0.0.2');
  const c = await probe(s.port, s.accepted, undefined, '127.0.0.2');
  await closedSoon(c, 'the third connection from 127.0.0.2 to be closed');
  const other = await probe(s.port, s.accepted, undefined, '127.0.0.3');
  assert.equal(a.server.destroyed || b.server.destroyed || other.server.destroyed, false);
  for (const p of [a, b, other]) p.client.destroy();
});

test('gateway: handshaking connections over the total cap are closed at once', async (t) => {
  const s = await serve(t, { maxHandshaking: 2, maxHandshakingPerAddress: 10 });
  const a = await probe(s.port, s.accepted, undefined, '127.0.0.2');
  const b = await probe(s.port, s.accepted, undefined, '127.0.0.3');
  const c = await probe(s.port, s.accepted, undefined, '127.0.0.4');
  await closedSoon(c, 'the third handshaking connection to be closed');
  assert.equal(a.server.destroyed || b.server.destroyed, false);
  for (const p of [a, b]) p.client.destroy();
});
