/**
 * Public proxy control API and listeners (docs/protocol.md#proxy-control-api):
 * announcement rules and results, expiry, persistence and replay, the control API accepting only its own
 * EPS's certificate (forged `_client`), and per-listener rate limits.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../src/core/json.js';
import { FileDatastore } from '../../src/datastore/file-store.js';
import { ControlApiConfigError } from '../../src/proxy/shared/control-server.js';
import { PublicProxy } from '../../src/proxy/public/public-proxy.js';
import { publicProxySchema } from '../../src/settings/proxy-schema.js';
import { tlsBlock } from '../helpers/network.js';
import {
  announce,
  callControl,
  clientInfo,
  connectTo,
  DOMAIN,
  PRIVATE_NAME,
  privateProxyClient,
  proxySettingsRecord,
  startPublicProxy,
  tempStore,
  untilClosed,
  type PublicHarness,
} from '../helpers/proxy-fixtures.js';
import { captureClientHello } from '../helpers/tls-hello.js';

const inDays = (days: number): string => new Date(Date.now() + days * 86_400_000).toISOString();

describe('public proxy: announcements', () => {
  let h: PublicHarness;
  before(async () => {
    h = await startPublicProxy();
  });
  after(() => h.stop());

  it('answers one result per item: null, 403 not allowed, 409 already taken (items 14, 16)', async () => {
    const first = await announce(h, [
      { domain: 'a.internal-server.local', proxy: 'ignored' },
      { domain: 'evilinternal-server.local' },
      { domain: '.internal-server.local' },
    ]);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.result, [null, { code: 403, message: 'not allowed' }, null]);
    const other = clientInfo('other-proxy.ga', [proxySettingsRecord(['.internal-server.local'])]);
    const second = await announce(
      h,
      [{ domain: 'a.internal-server.local' }, { domain: 'b.internal-server.local' }],
      other,
    );
    assert.deepEqual(second.body.result, [{ code: 409, message: 'already taken' }, null]);
  });

  it('lets another operator take a domain whose announcement expired (fix of the original)', async () => {
    await announce(h, [{ domain: 'c.internal-server.local', expires_at: '2020-01-01T00:00:00Z' }]);
    const other = clientInfo('other-proxy.ga', [proxySettingsRecord(['.internal-server.local'])]);
    const taken = await announce(h, [{ domain: 'c.internal-server.local' }], other);
    assert.deepEqual(taken.body.result, [null]);
    const back = await announce(h, [{ domain: 'c.internal-server.local' }]);
    assert.deepEqual(back.body.result, [{ code: 409, message: 'already taken' }]);
  });

  it('refuses callers without proxy settings (403) or with invalid ones (500) (item 15)', async () => {
    const none = await announce(h, [{ domain: DOMAIN }], clientInfo(PRIVATE_NAME));
    assert.equal(none.status, 400);
    assert.deepEqual(none.body.error, { code: 403, message: 'not authorized' });
    const otherOperator = await announce(
      h,
      [{ domain: DOMAIN }],
      clientInfo(PRIVATE_NAME, [proxySettingsRecord(['.internal-server.local'], 'another-proxy.ga')]),
    );
    assert.deepEqual(otherOperator.body.error, { code: 403, message: 'not authorized' });
    for (const bad of [['internal-server.local'], 'x', null]) {
      const reply = await announce(h, [{ domain: DOMAIN }], privateProxyClient(bad));
      assert.deepEqual(
        reply.body.error,
        { code: 500, message: 'invalid directory settings' },
        JSON.stringify(bad),
      );
    }
  });

  it('validates expires_at: RFC 3339, at most 7 days ahead, past accepted, nothing applied on error (item 17)', async () => {
    const tooLate = await announce(h, [
      { domain: 'd.internal-server.local' },
      { domain: 'e.internal-server.local', expires_at: inDays(8) },
    ]);
    assert.equal((tooLate.body.error as JsonObject).code, -32602);
    const notTime = await announce(h, [{ domain: 'd.internal-server.local', expires_at: 'tomorrow' }]);
    assert.equal((notTime.body.error as JsonObject).code, -32602);
    const listed = (await callControl(h.api, 'getAnnouncements', { _client: privateProxyClient() })).body
      .result as JsonObject[];
    assert.ok(!listed.some((a) => a.domain === 'd.internal-server.local'), 'applied despite an invalid item');
    const ok = await announce(h, [
      { domain: 'd.internal-server.local', expires_at: '2021-10-08T12:00:00.500+02:00' },
      { domain: 'e.internal-server.local', expires_at: inDays(6) },
      { domain: 'f.internal-server.local', expires_at: '' },
    ]);
    assert.deepEqual(ok.body.result, [null, null, null]);
  });

  it('lists non-expired announcements of all operators in the stored shape (item 18)', async () => {
    const expiring = inDays(1).replace(/\.\d+Z$/, 'Z');
    await announce(h, [{ domain: 'h.internal-server.local', expires_at: expiring }]);
    const listed = (await callControl(h.api, 'getAnnouncements', { _client: privateProxyClient() })).body
      .result as JsonObject[];
    const h1 = listed.find((a) => a.domain === 'h.internal-server.local')!;
    assert.deepEqual(Object.keys(h1), ['expires_at', 'operator', 'domain']);
    assert.deepEqual(h1, { expires_at: expiring, operator: PRIVATE_NAME, domain: 'h.internal-server.local' });
    assert.ok(listed.some((a) => a.operator === 'other-proxy.ga'));
    assert.ok(!listed.some((a) => a.domain === 'd.internal-server.local'), 'expired announcement listed');
  });

  it("refuses a caller presenting another operator's client certificate (forged _client)", async () => {
    const reply = await callControl(
      h.api,
      'announceConnections',
      { connections: [{ domain: 'x.internal-server.local' }], _client: privateProxyClient() },
      { as: 'hd-1' },
    );
    assert.equal(reply.status, 403);
    assert.equal((reply.body.error as JsonObject).code, 403);
    const forgedP2p = await callControl(
      h.api,
      'requestConnection',
      { to: 'hd-2', channel: 'grpc_server', _client: clientInfo('hd-1') },
      { as: 'private-proxy-1.ga' },
    );
    assert.equal(forgedP2p.status, 403);
    assert.equal(h.eps.calls.length, 0, 'the refused call reached the EPS');
  });
});

describe('public proxy: persistence', () => {
  it('replays announcements at start-up, later entries replacing the expiry', async () => {
    const store = tempStore();
    try {
      const first = await startPublicProxy({ storeFile: store.file });
      await announce(first, [{ domain: DOMAIN, expires_at: inDays(1) }]);
      await announce(first, [{ domain: DOMAIN }]);
      await announce(first, [{ domain: DOMAIN }]); // unchanged: nothing appended
      await first.stop(true);

      const raw = new FileDatastore(store.file);
      await raw.open();
      const entries = await raw.readNew();
      await raw.close();
      assert.equal(entries.length, 2);
      assert.ok(entries.every((e) => e.type === 1 && e.id.length === 16));
      assert.deepEqual(JSON.parse(entries[1]!.data.toString()), {
        expires_at: null,
        operator: PRIVATE_NAME,
        domain: DOMAIN,
      });

      const second = await startPublicProxy({ storeFile: store.file });
      try {
        assert.equal(second.proxy.stats().announcements, 1);
        // The replayed announcement routes: a client for the domain makes the proxy notify the private proxy.
        const client = await connectTo(second.front);
        client.write(await captureClientHello(DOMAIN));
        const [call] = await second.eps.waitForCalls(1);
        assert.equal(call!.method, `${PRIVATE_NAME}.incomingConnection`);
        client.destroy();
      } finally {
        await second.stop(true);
      }
    } finally {
      store.cleanup();
    }
  });
});

describe('public proxy: configuration and listeners', () => {
  it('refuses to run a control API that cannot authenticate its caller', () => {
    const store = tempStore();
    const settings = publicProxySchema.parse({
      name: 'public-proxy-1.ga',
      datastore: { type: 'file', settings: { filename: store.file } },
      jsonrpc_client: { endpoint: 'http://127.0.0.1:1/jsonrpc' },
      jsonrpc_server: { bind_address: '127.0.0.1:0' },
    });
    assert.throws(() => new PublicProxy(settings, { datastore: store.store() }), ControlApiConfigError);
    const noVerify = {
      ...settings,
      jsonrpc_server: {
        ...settings.jsonrpc_server,
        tls: { ...(tlsBlock('public-proxy-1.ga') as never as object), verify_client: false },
      },
    };
    assert.throws(
      () => new PublicProxy(noVerify as typeof settings, { datastore: store.store() }),
      ControlApiConfigError,
    );
    store.cleanup();
  });

  it('reports a bind failure instead of running without a public port', async () => {
    const taken = await startPublicProxy();
    try {
      await assert.rejects(
        startPublicProxy({ settings: { tls_bind_address: `127.0.0.1:${taken.front}` } }),
        /error binding to address/,
      );
    } finally {
      await taken.stop();
    }
  });

  it('rate-limits each listener on its own (item 30)', async () => {
    const h = await startPublicProxy({
      settings: { tcp_rate_limits: [{ type: 'hour', limit: 2 }], handshake_timeout: 30 },
    });
    try {
      for (const port of [h.front, h.internal]) {
        const allowed = [await connectTo(port), await connectTo(port)];
        const over = await connectTo(port);
        assert.equal((await untilClosed(over)).length, 0);
        for (const socket of allowed) assert.equal(socket.closed, false, 'an allowed connection was closed');
        for (const socket of allowed) socket.destroy();
      }
    } finally {
      await h.stop();
    }
  });
});
