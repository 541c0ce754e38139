/**
 * A call that the peer never processed is sent again on a new connection: hd-1 (a real eps) calls "ls-1",
 * played by a scripted HTTP/2 server. Its first connection answers the call with GOAWAY (last stream 0, as
 * a server closing an idle connection does when a call crosses the GOAWAY); the call must still succeed,
 * over a second connection. A call the server did process and failed is not repeated; a call whose
 * connection could not be made is tried again, also several times while the peer is not back (safe-retry.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeRequest, encodeResponse } from '../../src/grpc/codec.js';
import { encodeHeaders } from '../../src/grpc/h2/hpack.js';
import { CERTS, gatewayRequest, TestNetwork } from '../helpers/network.js';
import { FakePeer } from '../helpers/h2-fake-server.js';

const HEADERS = 0x1;
const GOAWAY = 0x7;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;

let net: TestNetwork;
/** The connection hd-1 keeps using after the first test. */
let live: FakePeer;
let fake: tls.Server;
const peers: FakePeer[] = [];
const arrived: (() => void)[] = [];

before(async () => {
  net = new TestNetwork([
    { name: 'hd-1', groups: ['health-departments'], grpcClient: { call_timeout: 10 } },
    { name: 'ls-1', groups: ['location-services'], grpcServer: true, gateway: false },
  ]);
  await net.prepare();
  fake = tls.createServer({
    key: readFileSync(join(CERTS, 'ls-1.key')),
    cert: readFileSync(join(CERTS, 'ls-1.crt')),
    ALPNProtocols: ['h2'],
  });
  fake.on('secureConnection', (socket: tls.TLSSocket) => {
    const peer = new FakePeer(socket);
    peer.settings();
    peers.push(peer);
    arrived.shift()?.();
  });
  fake.listen(net.ports.get('ls-1')!.grpc, '127.0.0.1');
  await once(fake, 'listening');
  await net.start('hd-1');
});

after(async () => {
  for (const p of [...peers, live]) p.socket.destroy();
  await new Promise<void>((resolve) => fake.close(() => resolve()));
  await net.stop();
});

const nextConnection = (): Promise<FakePeer> =>
  peers.length > 0
    ? Promise.resolve(peers.shift()!)
    : new Promise((r) => arrived.push(() => r(peers.shift()!)));

test('a call refused by a GOAWAY is sent again on a new connection and succeeds', async () => {
  const reply = gatewayRequest(net.ports.get('hd-1')!.gateway, {
    jsonrpc: '2.0',
    method: 'ls-1.lookup',
    params: { name: 'x' },
    id: 1,
  });
  const first = await nextConnection();
  await first.request();
  const goaway = Buffer.alloc(8); // last stream 0: nothing on this connection was processed
  first.send(GOAWAY, 0, 0, goaway);
  const second = await nextConnection();
  const req = await second.request();
  const call = decodeRequest(req.body.subarray(5));
  assert.equal(call.method, 'ls-1.lookup');
  second.answer(req.streamId, encodeResponse({ id: call.id, result: { found: true } }));
  live = second;
  const r = await reply;
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.result, { found: true });
});

test('a call the peer processed and failed is not repeated', async () => {
  const reply = gatewayRequest(net.ports.get('hd-1')!.gateway, {
    jsonrpc: '2.0',
    method: 'ls-1.lookup',
    params: { name: 'y' },
    id: 2,
  });
  const conn = live;
  const req = await conn.request();
  conn.send(
    HEADERS,
    END_STREAM | END_HEADERS,
    req.streamId,
    encodeHeaders([
      [':status', '200'],
      ['content-type', 'application/grpc'],
      ['grpc-status', '14'],
      ['grpc-message', 'busy'],
    ]),
  );
  const r = await reply;
  assert.match(JSON.stringify(r.json), /busy/);
  await assert.rejects(
    conn.next((f) => f.type === HEADERS, 500),
    /timed out/,
    'no second attempt',
  );
});

test('a call whose connection could not be made (nothing sent) is tried once more on a new one', async () => {
  // The pooled connection goes away; the next dial is cut during the TLS handshake.
  live.socket.destroy();
  fake.prependOnceListener('connection', (socket: Socket) => socket.destroy());
  const reply = gatewayRequest(net.ports.get('hd-1')!.gateway, {
    jsonrpc: '2.0',
    method: 'ls-1.lookup',
    params: { name: 'z' },
    id: 3,
  });
  const conn = await nextConnection();
  const req = await conn.request();
  const call = decodeRequest(req.body.subarray(5));
  conn.answer(req.streamId, encodeResponse({ id: call.id, result: { again: true } }));
  live = conn;
  const r = await reply;
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.result, { again: true });
});

test('a call whose connection cannot be made for a while waits for the peer (several attempts) and succeeds', async () => {
  // The pooled connection goes away; the next three dials are cut during the TLS handshake.
  live.socket.destroy();
  let cuts = 3;
  const cut = (socket: Socket): void => {
    if (--cuts === 0) fake.off('connection', cut);
    socket.destroy();
  };
  fake.prependListener('connection', cut);
  const reply = gatewayRequest(net.ports.get('hd-1')!.gateway, {
    jsonrpc: '2.0',
    method: 'ls-1.lookup',
    params: { name: 'w' },
    id: 4,
  });
  const failed = reply.then((r) => Promise.reject(new Error(`the call ended first: ${r.text}`)));
  const conn = await Promise.race([nextConnection(), failed]);
  const req = await conn.request();
  const call = decodeRequest(req.body.subarray(5));
  conn.answer(req.streamId, encodeResponse({ id: call.id, result: { waited: true } }));
  const r = await reply;
  assert.equal(cuts, 0, 'three dials were cut');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.result, { waited: true });
  live = conn;
});
