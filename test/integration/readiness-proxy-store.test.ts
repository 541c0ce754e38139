/**
 * Issue 13, /readyz of a public and of a private proxy whose announcements live in a real redis-server (in
 * process, the store re-read every 100 ms, on a real metrics listener): ready while the re-reads succeed;
 * 503 naming the store and the error once Redis is stopped; ready again when Redis is back on its port.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createDatastore, describeDatastore } from '../../src/datastore/registry.js';
import { MetricsServer } from '../../src/metrics/server.js';
import { PublicProxy } from '../../src/proxy/public/public-proxy.js';
import { PrivateProxy } from '../../src/proxy/private/private-proxy.js';
import { proxyReadiness, type ProxyState } from '../../src/proxy/shared/readiness.js';
import { privateProxySchema, publicProxySchema } from '../../src/settings/proxy-schema.js';
import { datastoreSchema, type DatastoreSettings } from '../../src/settings/datastore-schema.js';
import {
  ACCEPT_TIMEOUT_S,
  ADVERTISED_ENDPOINT,
  controlServerSettings,
  EpsStandIn,
  PRIVATE_NAME,
  PUBLIC_NAME,
} from '../helpers/proxy-fixtures.js';
import { testCertificates } from '../helpers/network.js';
import { redisSkip, startRedis, type RedisServer } from '../helpers/sd-harness.js';
import { check, getHealth, readyzUntil } from '../helpers/health-probe.js';

const cleanups: (() => Promise<unknown>)[] = [];
let redis: RedisServer | undefined;

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await redis?.stop();
});

/** A public or private proxy on that store, its announcements re-read every 100 ms. */
function proxyOn(
  kind: 'public' | 'private',
  datastore: DatastoreSettings,
  epsEndpoint: string,
): PublicProxy | PrivateProxy {
  const options = { datastore: createDatastore(datastore), storeSyncIntervalMs: 100 };
  const jsonrpc_client = { endpoint: epsEndpoint, timeout: 2 };
  if (kind === 'private') {
    const settings = privateProxySchema.parse({
      name: PRIVATE_NAME,
      datastore,
      internal_endpoint: { address: '127.0.0.1:1' },
      jsonrpc_client,
      jsonrpc_server: controlServerSettings(PRIVATE_NAME),
    });
    return new PrivateProxy(settings, options);
  }
  const settings = publicProxySchema.parse({
    name: PUBLIC_NAME,
    datastore,
    tls_bind_address: '127.0.0.1:0',
    internal_bind_address: '127.0.0.1:0',
    internal_endpoint: ADVERTISED_ENDPOINT,
    accept_timeout: ACCEPT_TIMEOUT_S,
    jsonrpc_client,
    jsonrpc_server: controlServerSettings(PUBLIC_NAME),
  });
  return new PublicProxy(settings, options);
}

for (const kind of ['public', 'private'] as const) {
  test(
    `${kind} proxy readyz: its Redis announcement store stops and returns`,
    { skip: redisSkip },
    async () => {
      await testCertificates();
      redis = await startRedis();
      const redisPort = redis.port;
      const eps = await new EpsStandIn().start();
      cleanups.push(() => eps.stop());
      const datastore = datastoreSchema.parse({
        type: 'redis',
        settings: { addresses: [`127.0.0.1:${redisPort}`], password: '', key: `${kind}-announcements` },
      });
      const proxy = proxyOn(kind, datastore, eps.endpoint);
      let state: ProxyState = 'starting';
      const readiness = proxyReadiness({
        kind,
        state: () => state,
        store: {
          description: `announcements in ${describeDatastore(datastore)}`,
          intervalMs: proxy.storeSyncIntervalMs,
          reads: () => proxy.storeHealth(),
        },
      });
      const metrics = new MetricsServer('127.0.0.1:0', { readiness });
      await metrics.start();
      cleanups.push(() => metrics.stop());
      const port = (metrics.server.address() as AddressInfo).port;

      const starting = await getHealth(port, '/readyz');
      assert.equal(starting.status, 503);
      assert.equal(check(starting, 'listeners').detail, `${kind} proxy starting`);

      await proxy.start();
      cleanups.push(() => proxy.stop());
      state = 'listening';
      const ready = await getHealth(port, '/readyz');
      assert.equal(ready.status, 200, JSON.stringify(ready.body));
      assert.match(check(ready, 'store').detail, /^announcements in redis .*: read \d+\.\d s ago$/);

      await redis.stop();
      const down = await readyzUntil(port, 503, '/readyz to report the stopped Redis');
      const store = check(down, 'store');
      assert.equal(store.ok, false);
      assert.match(store.detail, /^announcements in redis .*: (cannot read|no read for)/);
      assert.equal(check(down, 'listeners').ok, true);

      redis = await startRedis({ port: redisPort });
      await readyzUntil(port, 200, '/readyz to be ready again with Redis back');
      await redis.stop();
      redis = undefined;
    },
  );
}
