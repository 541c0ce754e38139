/**
 * Issue 10, finding 3 on the gRPC port: connections that never finish the TLS handshake (silence, half a
 * ClientHello) are closed at the handshake timeout on the server's clock, not one millisecond before; a
 * failed handshake is closed at once; a finished one is left alone; connections still handshaking are
 * capped in total and per source address (real sockets on 127.0.0.x, manual clock).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ls1Server, tlsConnect } from '../helpers/grpc-local.js';
import { once } from 'node:events';
import { ManualClock } from '../helpers/manual-clock.js';
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
import type { GrpcServerOptions } from '../../src/grpc/server.js';

const HANDSHAKE_MS = 10_000;

interface Served {
  clock: ManualClock;
  port: number;
  accepted: AcceptedSockets;
  /** Resolves at the server's next finished handshake. */
  secured: () => Promise<unknown>;
}

async function serve(
  t: TestContext,
  caps: Pick<GrpcServerOptions, 'maxHandshaking' | 'maxHandshakingPerAddress'> = {},
): Promise<Served> {
  const clock = new ManualClock();
  const server = ls1Server({
    handlers: { unary: { '/EPS/Call': async (p) => p }, bidi: {} },
    keepalive: { handshakeTimeoutMs: HANDSHAKE_MS },
    clock,
    ...caps,
  });
  const accepted = new AcceptedSockets(server.server);
  const { port } = await server.listen('127.0.0.1:0');
  t.after(() => {
    accepted.destroyAll();
    return server.close();
  });
  const secured = (): Promise<unknown> =>
    withDeadline(once(server.server, 'secureConnection'), { timeoutMs: 5000, what: 'the handshake' });
  return { clock, port, accepted, secured };
}

function closedAtTimeout(s: Served, p: Probe, what: string): Promise<void> {
  return closedAtHandshakeTimeout(s.clock, HANDSHAKE_MS, p, what);
}

test('a connection that sends nothing is closed at the handshake timeout', async (t) => {
  const s = await serve(t);
  await closedAtTimeout(s, await probe(s.port, s.accepted), 'silent connection');
});

test('a connection that sends half a ClientHello is closed at the handshake timeout', async (t) => {
  const s = await serve(t);
  const p = await probe(s.port, s.accepted, await halfClientHello());
  await closedAtTimeout(s, p, 'half ClientHello');
});

test('garbage instead of a ClientHello is closed at once (tlsClientError)', async (t) => {
  const s = await serve(t);
  await closedSoon(await probe(s.port, s.accepted, GARBAGE), 'the garbage connection to close');
});

test('a finished handshake is not closed by the handshake deadline', async (t) => {
  const s = await serve(t);
  const secured = s.secured();
  const client = await tlsConnect(s.port);
  client.on('error', () => undefined);
  t.after(() => client.destroy());
  const server = await s.accepted.next();
  await secured;
  await s.clock.advance(2 * HANDSHAKE_MS);
  assert.equal(server.destroyed, false, 'open after twice the handshake timeout');
});

test('handshaking connections over the per-address cap are closed at once; other addresses not', async (t) => {
  const s = await serve(t, { maxHandshaking: 10, maxHandshakingPerAddress: 2 });
  const first = await probe(s.port, s.accepted, undefined, '127.0.0.2');
  const second = await probe(s.port, s.accepted, undefined, '127.0.0.2');
  const third = await probe(s.port, s.accepted, undefined, '127.0.0.2');
  await closedSoon(third, 'the third connection from 127.0.0.2 to be closed');
  const other = await probe(s.port, s.accepted, undefined, '127.0.0.3');
  assert.equal(first.server.destroyed || second.server.destroyed || other.server.destroyed, false);
  // A slot frees when a handshaking connection goes away.
  first.client.destroy();
  await closedSoon(first, 'the first connection to close');
  await withServerClose(first);
  const again = await probe(s.port, s.accepted, undefined, '127.0.0.2');
  assert.equal(again.server.destroyed, false, 'accepted again once a slot is free');
  for (const p of [second, other, again]) p.client.destroy();
});

test('handshaking connections over the total cap are closed at once', async (t) => {
  const s = await serve(t, { maxHandshaking: 2, maxHandshakingPerAddress: 10 });
  const a = await probe(s.port, s.accepted, undefined, '127.0.0.2');
  const b = await probe(s.port, s.accepted, undefined, '127.0.0.3');
  const c = await probe(s.port, s.accepted, undefined, '127.0.0.4');
  await closedSoon(c, 'the third handshaking connection to be closed');
  assert.equal(a.server.destroyed || b.server.destroyed, false);
  for (const p of [a, b]) p.client.destroy();
});

/** The server side of a connection the client closed has seen the close too. */
async function withServerClose(p: Probe): Promise<void> {
  if (p.server.closed) return;
  await closedSoon({ ...p, closed: new Promise((r) => p.server.once('close', () => r())) }, 'server close');
}
