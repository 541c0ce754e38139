/**
 * Private proxy back-connections with real sockets (docs/protocol.md#proxy-control-api,
 * docs/protocol.md#normal-mode): checks of incomingConnection, the connection back (token first, only to
 * allowed endpoints), one HTTP request over TLS in terminating mode with plain HTTP forwarding, the idle
 * timeout, and the control API refusing other operators' certificates.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { JsonObject } from '../../src/core/json.js';
import { createInternalServer } from '../../examples/internal-server.js';
import { CERTS, tlsBlock } from '../helpers/network.js';
import { listen, type Listener } from '../helpers/net-pair.js';
import {
  callControl,
  clientInfo,
  DOMAIN,
  PRIVATE_NAME,
  PUBLIC_NAME,
  readExactly,
  startPrivateProxy,
  untilClosed,
  type PrivateHarness,
} from '../helpers/proxy-fixtures.js';
import { requestOver, startHttp, stopHttp } from '../helpers/private-proxy-client.js';
import { waitFor } from '../helpers/wait.js';

const PUBLIC = clientInfo(PUBLIC_NAME);

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
    // What announceConnection would have stored: incomingConnection needs a matching announcement.
    h.proxy.announcements.upsert({ domain: DOMAIN, owner: PUBLIC_NAME, expiresAt: null });
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
