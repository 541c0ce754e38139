/**
 * Private proxy with real sockets (docs/protocol.md#proxy-control-api, docs/protocol.md#normal-mode):
 * announcement rules, the back-connection (token first, only to allowed endpoints), delivery in terminating
 * mode (plain HTTP and validated JSON-RPC forwarding) and pass-through mode, timeouts, re-announcement, and
 * the control API refusing other operators' certificates.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type net from 'node:net';
import tls from 'node:tls';
import type { JsonObject } from '../../src/core/json.js';
import { FileDatastore } from '../../src/datastore/file-store.js';
import { REANNOUNCE_INTERVAL_MS } from '../../src/proxy/private/reannounce.js';
import { createInternalServer } from '../../examples/internal-server.js';
import { CERTS, tlsBlock } from '../helpers/network.js';
import { listen, type Listener } from '../helpers/net-pair.js';
import {
  callControl,
  clientInfo,
  DOMAIN,
  PRIVATE_NAME,
  PUBLIC_NAME,
  proxySettingsRecord,
  readExactly,
  startPrivateProxy,
  tempStore,
  untilClosed,
  type PrivateHarness,
} from '../helpers/proxy-fixtures.js';
import { waitFor } from '../helpers/wait.js';

const HD1 = clientInfo('hd-1', [proxySettingsRecord(['.internal-server.local'])]);
const PUBLIC = clientInfo(PUBLIC_NAME);
const inDays = (days: number): string => new Date(Date.now() + days * 86_400_000).toISOString();

/**
 * Makes the private proxy connect back (as on `incomingConnection` from the public proxy) to our stand-in
 * for the public proxy's internal port, and returns that socket after the 32 token bytes.
 */
async function backConnection(api: number, publicPort: Listener, endpoint: string): Promise<net.Socket> {
  const accepted = publicPort.accept();
  await callControl(
    api,
    'incomingConnection',
    { domain: DOMAIN, endpoint, token: randomBytes(32).toString('base64'), _client: PUBLIC },
    { as: PRIVATE_NAME },
  );
  const socket = await accepted;
  await readExactly(socket, 32);
  return socket;
}

async function startHttp(server: http.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function stopHttp(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** Plays the public client over a back-connection: TLS to the private proxy, one HTTP request. */
async function requestOver(
  socket: net.Socket,
  opts: { method?: string; path?: string; body?: string; contentType?: string; as?: string } = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const identity =
    opts.as === undefined
      ? {}
      : {
          cert: readFileSync(join(CERTS, `${opts.as}.crt`)),
          key: readFileSync(join(CERTS, `${opts.as}.key`)),
        };
  const secure = tls.connect({
    socket,
    servername: DOMAIN,
    ca: readFileSync(join(CERTS, 'root.crt')),
    ALPNProtocols: ['http/1.1'],
    ...identity,
  });
  secure.on('error', () => undefined);
  await once(secure, 'secureConnect');
  assert.equal(secure.alpnProtocol, 'http/1.1');
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        createConnection: () => secure,
        method: opts.method ?? 'GET',
        path: opts.path ?? '/',
        headers: { host: DOMAIN, ...(opts.contentType ? { 'content-type': opts.contentType } : {}) },
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('private proxy: terminating mode with plain HTTP forwarding', () => {
  let h: PrivateHarness;
  let internal: http.Server;
  let publicPort: Listener;
  let endpoint: string;

  before(async () => {
    internal = createInternalServer(false, CERTS);
    const internalPort = await startHttp(internal);
    publicPort = await listen();
    endpoint = `127.0.0.1:${publicPort.port}`;
    h = await startPrivateProxy({
      settings: {
        allowed_public_endpoints: [endpoint],
        internal_endpoint: {
          address: `127.0.0.1:${internalPort}`,
          timeout: 1,
          tls: tlsBlock('internal-server', { verify_client: false }),
        },
      },
    });
  });
  after(async () => {
    await h.stop();
    await publicPort.close();
    await stopHttp(internal);
  });

  const incoming = (params: JsonObject, as = PUBLIC_NAME) =>
    callControl(
      h.api,
      'incomingConnection',
      { domain: DOMAIN, endpoint, ...params, _client: clientInfo(as) },
      { as: PRIVATE_NAME },
    );

  it('announces with the documented checks in order, then tells the public proxy (item 19)', async () => {
    const call = (params: JsonObject, client = HD1) =>
      callControl(h.api, 'announceConnection', { ...params, _client: client }, { as: PRIVATE_NAME });
    assert.deepEqual((await call({ domain: DOMAIN, proxy: PRIVATE_NAME })).body.error, {
      code: 400,
      message: 'trying to announce with private proxy name',
    });
    assert.deepEqual((await call({ domain: DOMAIN, proxy: PUBLIC_NAME }, clientInfo('hd-1'))).body.error, {
      code: 403,
      message: 'not authorized',
    });
    const invalid = clientInfo('hd-1', [proxySettingsRecord([DOMAIN])]);
    assert.deepEqual((await call({ domain: DOMAIN, proxy: PUBLIC_NAME }, invalid)).body.error, {
      code: 500,
      message: 'invalid directory settings',
    });
    assert.deepEqual((await call({ domain: 'example.org', proxy: PUBLIC_NAME })).body.error, {
      code: 403,
      message: 'not allowed to forward this domain',
      data: { allowed_domains: ['.internal-server.local'] },
    });
    const late = await call({ domain: DOMAIN, proxy: PUBLIC_NAME, expires_at: inDays(8) });
    assert.equal((late.body.error as JsonObject).code, -32602);
    assert.equal(h.eps.calls.length, 0);

    const ok = await call({ domain: DOMAIN, proxy: PUBLIC_NAME });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.result, 'ok');
    const sent = h.eps.calls.at(-1)!;
    assert.equal(sent.method, `${PUBLIC_NAME}.announceConnections`);
    assert.equal(sent.id, '');
    assert.deepEqual(sent.params, {
      connections: [{ expires_at: null, proxy: PUBLIC_NAME, domain: DOMAIN }],
    });

    const listed = await callControl(h.api, 'getAnnouncements', { _client: HD1 }, { as: PRIVATE_NAME });
    assert.deepEqual(listed.body.result, [{ expires_at: null, proxy: PUBLIC_NAME, domain: DOMAIN }]);
  });

  it('reports -32603 when the public proxy refuses, keeping the local announcement', async () => {
    h.eps.script = () => ({ error: { code: 403, message: 'not authorized' } });
    try {
      const reply = await callControl(
        h.api,
        'announceConnection',
        { domain: 'other.internal-server.local', proxy: PUBLIC_NAME, _client: HD1 },
        { as: PRIVATE_NAME },
      );
      assert.equal((reply.body.error as JsonObject).code, -32603);
      assert.ok(h.proxy.announcements.find('other.internal-server.local', PUBLIC_NAME));
    } finally {
      h.eps.script = () => ({ result: {} });
    }
  });

  it('validates incomingConnection: token of 32 bytes, a matching announcement, an allowed endpoint (item 13)', async () => {
    const long = randomBytes(33).toString('base64');
    assert.equal(((await incoming({ token: long })).body.error as JsonObject).code, -32602);
    assert.equal(((await incoming({ token: 'not base64!' })).body.error as JsonObject).code, -32602);
    const token = randomBytes(32).toString('base64');
    assert.deepEqual((await incoming({ token, domain: 'unknown.internal-server.local' })).body.error, {
      code: 404,
      message: 'no matching connection found',
    });
    assert.deepEqual((await incoming({ token }, 'other-public-proxy.ga')).body.error, {
      code: 404,
      message: 'no matching connection found',
    });
    const elsewhere = await incoming({ token, endpoint: '127.0.0.1:22' });
    assert.deepEqual(elsewhere.body.error, { code: 403, message: 'endpoint not allowed' });
    assert.equal(h.proxy.stats().backConnections, 0);
  });

  it('connects back with the raw token first and serves one HTTP request over TLS (items 2, 13)', async () => {
    const token = randomBytes(32);
    const accepted = publicPort.accept();
    const reply = await incoming({ token: token.toString('base64') });
    assert.deepEqual(reply.body, { jsonrpc: '2.0', result: { message: 'ok' }, id: '1' });
    const socket = await accepted;
    assert.deepEqual(await readExactly(socket, 32), token);
    const response = await requestOver(socket);
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.body), { message: 'success' });
    assert.equal(response.headers.connection, 'close');
    await untilClosed(socket);
    await waitFor(() => h.proxy.stats().backConnections === 0, {
      timeoutMs: 5_000,
      what: 'no back connections',
    });
  });

  it('forwards a POST with its body (echo)', async () => {
    const accepted = publicPort.accept();
    await incoming({ token: randomBytes(32).toString('base64') });
    const socket = await accepted;
    await readExactly(socket, 32);
    const response = await requestOver(socket, {
      method: 'POST',
      path: '/echo?x=1',
      body: '{"b":2,"a":1}',
      contentType: 'application/json',
    });
    assert.equal(response.status, 200);
    assert.equal(response.body, '{"a":1,"b":2}');
  });

  it('closes a back-connection whose client never speaks after internal_endpoint.timeout', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const accepted = publicPort.accept();
    await incoming({ token: randomBytes(32).toString('base64') });
    const socket = await accepted;
    // The delivery's timer is armed in the microtasks right after the token write, before it arrives here.
    await readExactly(socket, 32);
    t.mock.timers.tick(999);
    for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(h.proxy.stats().backConnections, 1, 'still open just before the 1 s timeout');
    t.mock.timers.tick(1);
    await untilClosed(socket);
    await waitFor(() => h.proxy.stats().backConnections === 0, {
      timeoutMs: 5_000,
      what: 'no back connections',
    });
  });

  it("refuses a caller presenting another operator's client certificate (forged _client)", async () => {
    const reply = await callControl(
      h.api,
      'incomingConnection',
      { domain: DOMAIN, endpoint, token: randomBytes(32).toString('base64'), _client: PUBLIC },
      { as: PUBLIC_NAME },
    );
    assert.equal(reply.status, 403);
    assert.equal(h.proxy.stats().backConnections, 0);
  });
});

describe('private proxy: other delivery modes', () => {
  it('requires a client certificate by default in terminating mode (verify_client, item 29)', async () => {
    const internal = createInternalServer(false, CERTS);
    const internalPort = await startHttp(internal);
    const publicPort = await listen();
    const endpoint = `127.0.0.1:${publicPort.port}`;
    const h = await startPrivateProxy({
      settings: {
        internal_endpoint: { address: `127.0.0.1:${internalPort}`, tls: tlsBlock('internal-server') },
      },
    });
    try {
      h.proxy.announcements.upsert({ domain: DOMAIN, owner: PUBLIC_NAME, expiresAt: null });
      await assert.rejects(requestOver(await backConnection(h.api, publicPort, endpoint)));
      const response = await requestOver(await backConnection(h.api, publicPort, endpoint), { as: 'hd-1' });
      assert.equal(response.status, 200);
    } finally {
      await h.stop();
      await publicPort.close();
      await stopHttp(internal);
    }
  });

  it('answers 502 when the internal server is down', async () => {
    const publicPort = await listen();
    const endpoint = `127.0.0.1:${publicPort.port}`;
    const h = await startPrivateProxy({
      settings: {
        internal_endpoint: {
          address: '127.0.0.1:1',
          tls: tlsBlock('internal-server', { verify_client: false }),
        },
      },
    });
    try {
      h.proxy.announcements.upsert({ domain: DOMAIN, owner: PUBLIC_NAME, expiresAt: null });
      const socket = await backConnection(h.api, publicPort, endpoint);
      const response = await requestOver(socket);
      assert.equal(response.status, 502);
    } finally {
      await h.stop();
      await publicPort.close();
    }
  });

  it('validated JSON-RPC forwarding: only the path, only valid requests, ids normalised', async () => {
    const seen: JsonObject[] = [];
    const upstream = http.createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => (text += d.toString()));
      req.on('end', () => {
        const body = JSON.parse(text) as JsonObject;
        seen.push(body);
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', result: 'done', id: body.id }));
      });
    });
    const upstreamPort = await startHttp(upstream);
    const publicPort = await listen();
    const endpoint = `127.0.0.1:${publicPort.port}`;
    const h = await startPrivateProxy({
      settings: {
        internal_endpoint: {
          address: '127.0.0.1:1',
          tls: tlsBlock('internal-server', { verify_client: false }),
          jsonrpc_client: { endpoint: `http://127.0.0.1:${upstreamPort}/rpc` },
        },
      },
    });
    h.proxy.announcements.upsert({ domain: DOMAIN, owner: PUBLIC_NAME, expiresAt: null });
    const over = async (opts: Parameters<typeof requestOver>[1]) => {
      const socket = await backConnection(h.api, publicPort, endpoint);
      return requestOver(socket, opts);
    };
    try {
      assert.equal(
        (await over({ method: 'POST', path: '/other', body: '{}', contentType: 'application/json' })).status,
        404,
      );
      const invalid = await over({
        method: 'POST',
        path: '/jsonrpc',
        body: '{"jsonrpc":"2.0"}',
        contentType: 'application/json',
      });
      assert.equal(invalid.status, 400);
      assert.equal((JSON.parse(invalid.body) as { error: { code: number } }).error.code, -32600);
      const ok = await over({
        method: 'POST',
        path: '/jsonrpc',
        body: JSON.stringify({ jsonrpc: '2.0', method: 'add', params: { a: 1 }, id: 5 }),
        contentType: 'application/json',
      });
      assert.equal(ok.status, 200);
      assert.deepEqual(JSON.parse(ok.body), { jsonrpc: '2.0', result: 'done', id: 'n:5' });
      assert.deepEqual(seen, [{ jsonrpc: '2.0', method: 'add', params: { a: 1 }, id: 'n:5' }]);
    } finally {
      await h.stop();
      await publicPort.close();
      await stopHttp(upstream);
    }
  });

  it('pass-through: splices to the internal endpoint, which terminates TLS itself', async () => {
    const internal = createInternalServer(true, CERTS);
    const internalPort = await startHttp(internal);
    const publicPort = await listen();
    const endpoint = `127.0.0.1:${publicPort.port}`;
    const h = await startPrivateProxy({
      settings: { internal_endpoint: { address: `127.0.0.1:${internalPort}` } },
    });
    try {
      h.proxy.announcements.upsert({ domain: DOMAIN, owner: PUBLIC_NAME, expiresAt: null });
      const socket = await backConnection(h.api, publicPort, endpoint);
      const response = await requestOver(socket, {
        method: 'POST',
        body: '{"z":1}',
        contentType: 'application/json',
      });
      assert.deepEqual(JSON.parse(response.body), { z: 1 });
      assert.equal(h.proxy.stats().tunnels, 1);
      socket.destroy();
      await waitFor(() => h.proxy.stats().tunnels === 0 && h.proxy.stats().backConnections === 0, {
        timeoutMs: 5_000,
        what: 'no tunnels and no back connections',
      });
    } finally {
      await h.stop();
      await publicPort.close();
      await stopHttp(internal);
    }
  });
});

describe('private proxy: re-announcement', () => {
  it('re-sends stored, non-expired announcements grouped per public proxy at start and every 10 minutes (item 20)', async (t) => {
    // The re-announce timer runs on mock timers: the production interval, without waiting for it.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const store = tempStore();
    const seed = new FileDatastore(store.file);
    await seed.open();
    const entry = (json: JsonObject) => ({
      type: 2,
      id: randomBytes(16),
      data: Buffer.from(JSON.stringify(json)),
    });
    await seed.append([
      entry({ expires_at: null, proxy: PUBLIC_NAME, domain: 'a.internal-server.local' }),
      entry({ expires_at: null, proxy: 'public-proxy-2.ga', domain: 'b.internal-server.local' }),
      entry({ expires_at: '2020-01-01T00:00:00Z', proxy: PUBLIC_NAME, domain: 'c.internal-server.local' }),
      entry({ expires_at: inDays(1), proxy: PUBLIC_NAME, domain: 'd.internal-server.local' }),
    ]);
    await seed.close();
    const h = await startPrivateProxy({ storeFile: store.file });
    try {
      const calls = await h.eps.waitForCalls(2);
      const first = calls.slice(0, 2).sort((x, y) => x.method.localeCompare(y.method));
      assert.equal(first[0]!.method, `${PUBLIC_NAME}.announceConnections`);
      assert.deepEqual(
        (first[0]!.params.connections as JsonObject[]).map((c) => c.domain),
        ['a.internal-server.local', 'd.internal-server.local'],
      );
      assert.equal(first[1]!.method, 'public-proxy-2.ga.announceConnections');
      assert.deepEqual(first[1]!.params.connections, [
        { expires_at: null, proxy: 'public-proxy-2.ga', domain: 'b.internal-server.local' },
      ]);
      // The next round is armed once the first one's replies are back, which the test cannot see: move the
      // clock an interval at a time until the second round arrives (rounds never overlap, so no third).
      await waitFor(
        () => {
          if (calls.length >= 4) return true;
          t.mock.timers.tick(REANNOUNCE_INTERVAL_MS);
          return false;
        },
        { timeoutMs: 5_000, what: 'the second re-announcement round' },
      );
      const second = calls.slice(2, 4).map((c) => c.method);
      assert.deepEqual(second.sort(), first.map((c) => c.method).sort(), 'a second round to both proxies');
    } finally {
      await h.stop();
      store.cleanup();
    }
  });
});
