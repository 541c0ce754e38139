/**
 * Public proxy, normal mode, with real sockets (docs/protocol.md#sni-routing,
 * docs/protocol.md#normal-mode): SNI routing, the private side's back-connection with the token, end-to-end
 * TLS through the tunnel, and every rejection path (garbage, split or oversized hellos, no SNI, unannounced
 * or expired domains, refused or failed notifications, silent private proxies) with the tables empty
 * afterwards.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type net from 'node:net';
import tls from 'node:tls';
import { CERTS } from '../helpers/network.js';
import {
  ACCEPT_TIMEOUT_S,
  HANDSHAKE_TIMEOUT_S,
  ADVERTISED_ENDPOINT,
  announce,
  connectTo,
  DOMAIN,
  PRIVATE_NAME,
  readExactly,
  startPublicProxy,
  untilClosed,
  type EpsAnswer,
  type EpsCall,
  type PublicHarness,
} from '../helpers/proxy-fixtures.js';
import { waitFor, withDeadline } from '../helpers/wait.js';
import {
  appendExtension,
  buildHello,
  buildHelloMessage,
  captureClientHello,
  PADDING_EXTENSION,
  serverNameData,
  wrapRecords,
} from '../helpers/tls-hello.js';

const BASE64_TOKEN = /^[A-Za-z0-9+/]{43}=$/;

/** Lets `count` turns of the event loop (I/O and close callbacks included) pass. */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Plays the private proxy: on incomingConnection, connects back to the internal port with the token. */
class BackConnector {
  readonly sockets: net.Socket[] = [];
  private waiters: ((s: net.Socket) => void)[] = [];
  connectBack = true;
  answer: 'ok' | 'refuse' | 'drop' = 'ok';

  constructor(private readonly harness: () => PublicHarness) {}

  script = async (call: EpsCall): Promise<EpsAnswer | 'drop'> => {
    if (call.method !== `${PRIVATE_NAME}.incomingConnection`) return { result: {} };
    if (this.answer === 'refuse') return { error: { code: 404, message: 'no matching connection found' } };
    if (this.answer === 'drop') return 'drop' as const;
    if (this.connectBack) {
      const socket = await connectTo(this.harness().internal);
      socket.write(Buffer.from(call.params.token as string, 'base64'));
      const waiter = this.waiters.shift();
      if (waiter) waiter(socket);
      else this.sockets.push(socket);
    }
    return { result: { message: 'ok' } };
  };

  next(): Promise<net.Socket> {
    const socket = this.sockets.shift();
    if (socket) return Promise.resolve(socket);
    const connected = new Promise<net.Socket>((resolve) => this.waiters.push(resolve));
    return withDeadline(connected, { timeoutMs: 5_000, what: 'the private side to connect back' });
  }
}

function tlsClient(port: number, servername = DOMAIN): tls.TLSSocket {
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    servername,
    ca: readFileSync(join(CERTS, 'root.crt')),
  });
  socket.on('error', () => undefined);
  return socket;
}

function tlsServerOn(socket: net.Socket): tls.TLSSocket {
  const secure = new tls.TLSSocket(socket, {
    isServer: true,
    secureContext: tls.createSecureContext({
      cert: readFileSync(join(CERTS, 'internal-server.crt')),
      key: readFileSync(join(CERTS, 'internal-server.key')),
    }),
  });
  secure.on('error', () => undefined);
  return secure;
}

describe('public proxy: normal mode', () => {
  let h: PublicHarness;
  let back: BackConnector;

  before(async () => {
    back = new BackConnector(() => h);
    h = await startPublicProxy({ script: back.script });
    const reply = await announce(h, [
      { domain: DOMAIN },
      { domain: 'expired.internal-server.local', expires_at: '2020-01-01T00:00:00Z' },
    ]);
    assert.deepEqual(reply.body.result, [null, null]);
  });
  after(() => h.stop());

  const emptyTables = async (): Promise<void> => {
    await waitFor(
      () => {
        const s = h.proxy.stats();
        return s.normalTokens === 0 && s.pendingConnections === 0 && s.tunnels === 0;
      },
      { timeoutMs: 5_000, what: 'empty token, connection and tunnel tables' },
    );
  };

  it('relays end-to-end TLS between a client and the private side, after notifying it correctly', async () => {
    const callsBefore = h.eps.calls.length;
    const client = tlsClient(h.front);
    const backSocket = await back.next();
    const call = h.eps.calls[callsBefore]!;
    assert.equal(call.method, `${PRIVATE_NAME}.incomingConnection`);
    assert.equal(call.id, '');
    assert.deepEqual(Object.keys(call.params).sort(), ['domain', 'endpoint', 'token']);
    assert.equal(call.params.domain, DOMAIN);
    assert.equal(call.params.endpoint, ADVERTISED_ENDPOINT);
    assert.match(call.params.token as string, BASE64_TOKEN);

    const server = tlsServerOn(backSocket);
    await once(client, 'secureConnect');
    assert.equal(client.authorized, true);
    client.write('ping');
    const [got] = (await once(server, 'data')) as [Buffer];
    assert.equal(got.toString(), 'ping');
    server.write('pong');
    const [reply] = (await once(client, 'data')) as [Buffer];
    assert.equal(reply.toString(), 'pong');
    assert.equal(h.proxy.stats().tunnels, 1);
    client.end();
    server.end();
    await untilClosed(client);
    await emptyTables();
  });

  it('writes exactly the buffered client bytes first on the back-connection (item 5)', async () => {
    const hello = await captureClientHello(DOMAIN);
    const extra = Buffer.from('pipelined after the hello');
    const client = await connectTo(h.front);
    client.write(Buffer.concat([hello, extra]));
    const backSocket = await back.next();
    const first = await readExactly(backSocket, hello.length + extra.length);
    assert.deepEqual(first, Buffer.concat([hello, extra]));
    client.destroy();
    await untilClosed(backSocket);
    await emptyTables();
  });

  it('keeps a tunnel alive far past the hello and token deadlines (no 5 s cut)', async (t) => {
    // On mock timers: every proxy timer armed for this tunnel is due long before the clock moved.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const client = tlsClient(h.front);
    const server = tlsServerOn(await back.next());
    await once(client, 'secureConnect');
    t.mock.timers.tick(60 * 60 * 1000);
    client.write('still there?');
    const [got] = (await once(server, 'data')) as [Buffer];
    assert.equal(got.toString(), 'still there?');
    server.write('yes');
    const [reply] = (await once(client, 'data')) as [Buffer];
    assert.equal(reply.toString(), 'yes');
    client.destroy();
    await untilClosed(server);
    await emptyTables();
  });

  it('accepts a ClientHello split over several packets and several records', async () => {
    const message = buildHelloMessage({ extensions: [{ type: 0, data: serverNameData(DOMAIN) }] });
    const records = wrapRecords(message, [20, 30]);
    const client = await connectTo(h.front);
    let from = 0;
    for (const cut of [3, 11, 40, records.length]) {
      client.write(records.subarray(from, cut));
      from = cut;
      await new Promise((resolve) => setTimeout(resolve, 20)); // separate TCP segments
    }
    const backSocket = await back.next();
    const first = await readExactly(backSocket, 41);
    assert.deepEqual(first, records.subarray(0, 41));
    client.destroy();
    await untilClosed(backSocket);
    await emptyTables();
  });

  it('accepts a hello of about 12 KiB', async () => {
    const base = buildHelloMessage({ extensions: [{ type: 0, data: serverNameData(DOMAIN) }] });
    const big = wrapRecords(appendExtension(base, { type: PADDING_EXTENSION, data: Buffer.alloc(12_000) }));
    const client = await connectTo(h.front);
    client.write(big);
    const backSocket = await back.next();
    assert.deepEqual(await readExactly(backSocket, big.length), big);
    client.destroy();
    await untilClosed(backSocket);
    await emptyTables();
  });

  const rejected: [string, () => Promise<Buffer>][] = [
    ['garbage instead of a ClientHello', async () => Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['a hello without SNI', () => captureClientHello()],
    ['an unannounced domain', () => captureClientHello('other.internal-server.local')],
    ['an expired announcement', () => captureClientHello('expired.internal-server.local')],
    [
      'a TLS 1.0 client_version',
      async () => buildHello({ version: 0x0301, extensions: [{ type: 0, data: serverNameData(DOMAIN) }] }),
    ],
  ];
  for (const [what, bytes] of rejected) {
    it(`closes silently on ${what}, without notifying anyone (item 7)`, async () => {
      const callsBefore = h.eps.calls.length;
      const client = await connectTo(h.front);
      client.write(await bytes());
      const received = await untilClosed(client);
      assert.equal(received.length, 0);
      assert.equal(h.eps.calls.length, callsBefore);
      await emptyTables();
    });
  }

  it('closes a client that sends nothing once the hello deadline passes', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const client = await connectTo(h.front);
    // Admitted as pending in the same turn that arms the hello deadline.
    await waitFor(() => h.proxy.stats().pendingConnections === 1, {
      timeoutMs: 5_000,
      what: 'the proxy to admit the connection',
    });
    t.mock.timers.tick(HANDSHAKE_TIMEOUT_S * 1000 - 1);
    await turns(2);
    assert.equal(h.proxy.stats().pendingConnections, 1, 'still waiting just before handshake_timeout');
    t.mock.timers.tick(1);
    await untilClosed(client);
    await emptyTables();
  });

  it('releases the parked client at once when the private proxy refuses or cannot be reached', async (t) => {
    // On mock timers that never move: a close here cannot come from the accept timeout.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    for (const answer of ['refuse', 'drop'] as const) {
      back.answer = answer;
      const client = tlsClient(h.front);
      await untilClosed(client);
      await emptyTables();
    }
    back.answer = 'ok';
  });

  it('closes a parked client after accept_timeout when nobody connects back (item 26)', async (t) => {
    back.connectBack = false;
    t.mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const client = tlsClient(h.front);
      await h.eps.waitForCalls(h.eps.calls.length + 1);
      assert.equal(h.proxy.stats().normalTokens, 1);
      t.mock.timers.tick(ACCEPT_TIMEOUT_S * 1000 - 1);
      assert.equal(h.proxy.stats().normalTokens, 1, 'still parked just before accept_timeout');
      t.mock.timers.tick(1);
      assert.equal(h.proxy.stats().normalTokens, 0, 'dropped at accept_timeout');
      await untilClosed(client);
      await emptyTables();
    } finally {
      back.connectBack = true;
    }
  });

  it('tears the tunnel down when a peer vanishes mid-stream', async () => {
    const client = tlsClient(h.front);
    const backSocket = await back.next();
    const server = tlsServerOn(backSocket);
    await once(client, 'secureConnect');
    client.write('x');
    await once(server, 'data');
    backSocket.resetAndDestroy();
    await untilClosed(client);
    await emptyTables();
  });
});
