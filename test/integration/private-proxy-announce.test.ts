/**
 * Private proxy announcements with real sockets (docs/protocol.md#announcements): the checks of
 * announceConnection in order, telling the public proxy, and re-announcing stored announcements.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { JsonObject } from '../../src/core/json.js';
import { FileDatastore } from '../../src/datastore/file-store.js';
import { REANNOUNCE_INTERVAL_MS } from '../../src/proxy/private/reannounce.js';
import {
  callControl,
  clientInfo,
  DOMAIN,
  PRIVATE_NAME,
  PUBLIC_NAME,
  proxySettingsRecord,
  startPrivateProxy,
  tempStore,
  type PrivateHarness,
} from '../helpers/proxy-fixtures.js';
import { waitFor } from '../helpers/wait.js';

const HD1 = clientInfo('hd-1', [proxySettingsRecord(['.internal-server.local'])]);
const inDays = (days: number): string => new Date(Date.now() + days * 86_400_000).toISOString();

describe('private proxy: announcements', () => {
  let h: PrivateHarness;

  before(async () => {
    h = await startPrivateProxy();
  });
  after(async () => {
    await h.stop();
  });

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
