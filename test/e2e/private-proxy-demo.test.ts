/**
 * The private-proxy demo end to end with real processes (issue 4; docs/protocol.md#normal-mode):
 * internal-server (plain HTTP), the private proxy terminating TLS with the internal-server certificate, the
 * public proxy, and EPS nodes for both proxy operators and hd-1 on a JSON directory. hd-1 announces the
 * domain through its gateway; a TLS client on the public port then reaches the internal server; the
 * private proxy's status page, /status.json and /readyz then show the domain and its store. Also: the
 * CLI's missing section errors and clean stops.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonObject, JsonValue } from '../../src/core/json.js';
import { CERTS, gatewayRequest, TestNetwork, tlsBlock } from '../helpers/network.js';
import { freePort, runProgram, startProgram, type Running } from '../helpers/processes.js';
import { getPage } from '../helpers/status-network.js';
import { check, getHealth } from '../helpers/health-probe.js';

const PUBLIC = 'public-proxy-1.ga';
const PRIVATE = 'private-proxy-1.ga';
const DOMAIN = 'test.internal-server.local';
const AT = '2021-05-17T10:00:00Z';

const allow = (group: string) => [{ group, rights: ['call'] }];
const proxySettings = (name: string): JsonObject => ({
  name,
  section: 'settings',
  data: [
    {
      service: 'proxy',
      environment: 'production',
      settings: { allowed_domains: ['.internal-server.local'] },
    },
  ],
  created_at: AT,
});

function httpsGet(port: number, method: string, body?: string): Promise<{ status: number; json: JsonValue }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: '/jsonrpc',
        servername: DOMAIN,
        ca: readFileSync(join(CERTS, 'root.crt')),
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        agent: false,
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as JsonValue }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('private-proxy demo (real processes)', () => {
  const network = new TestNetwork([
    {
      name: PUBLIC,
      groups: ['proxy-providers'],
      grpcServer: true,
      grpcClient: true,
      services: [
        {
          name: 'proxy',
          permissions: allow('proxy-users'),
          methods: [{ name: 'announceConnections' }, { name: 'getAnnouncements' }],
        },
        {
          name: 'hd-proxy',
          permissions: allow('health-departments'),
          methods: [{ name: 'requestConnection' }],
        },
      ],
      backend: 'https://localhost:1/jsonrpc',
    },
    {
      name: PRIVATE,
      groups: ['proxy-users'],
      grpcServer: true,
      grpcClient: true,
      services: [
        { name: 'internals', permissions: allow('*'), methods: [{ name: '_ping' }] },
        {
          name: 'private-proxy.ga',
          permissions: [],
          methods: [
            { name: 'incomingConnection', permissions: allow('proxy-providers') },
            { name: 'announceConnection', permissions: allow('health-departments') },
            { name: 'getAnnouncements', permissions: allow('health-departments') },
          ],
        },
      ],
      backend: 'https://localhost:1/jsonrpc',
    },
    { name: 'hd-1', groups: ['health-departments'], grpcClient: true },
  ]);
  const procs: Running[] = [];
  const ports = {
    front: 0,
    internal: 0,
    publicApi: 0,
    privateApi: 0,
    upstream: 0,
    metrics: 0,
    privateMetrics: 0,
  };

  /** Points an EPS node's backend at its proxy's control API (HTTPS with the node's own certificate). */
  function wireBackend(name: string, apiPort: number): void {
    const file = join(network.settingsDir(name), '001_default.json');
    const settings = JSON.parse(readFileSync(file, 'utf8')) as { channels: JsonObject[] };
    const channel = settings.channels.find((c) => c.type === 'jsonrpc_client')!;
    channel.settings = {
      endpoint: `https://localhost:${apiPort}/jsonrpc`,
      timeout: 5,
      tls: tlsBlock(name, { server_name: name }),
    };
    writeFileSync(file, JSON.stringify(settings, null, 1));
  }

  function writeProxySettings(dirName: string, settings: JsonObject): string {
    const dir = join(network.dir, 'proxy', dirName);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '001_default.json'), JSON.stringify(settings, null, 1));
    return dir;
  }

  const gateway = (port: number, name: string): JsonObject => ({
    endpoint: `https://localhost:${port}/jsonrpc`,
    timeout: 10,
    tls: tlsBlock(name, { server_name: name }),
  });

  before(async () => {
    await network.prepare([proxySettings(PRIVATE), proxySettings('hd-1')]);
    for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
    wireBackend(PUBLIC, ports.publicApi);
    wireBackend(PRIVATE, ports.privateApi);

    const publicDir = writeProxySettings('public', {
      metrics: { bind_address: `127.0.0.1:${ports.metrics}` },
      public: {
        name: PUBLIC,
        datastore: { type: 'file', settings: { filename: join(network.dir, 'public.db') } },
        tls_bind_address: `127.0.0.1:${ports.front}`,
        internal_bind_address: `127.0.0.1:${ports.internal}`,
        internal_endpoint: `127.0.0.1:${ports.internal}`,
        tcp_rate_limits: [{ type: 'minute', limit: 1000 }],
        jsonrpc_client: gateway(network.ports.get(PUBLIC)!.gateway, PUBLIC),
        jsonrpc_server: { bind_address: `127.0.0.1:${ports.publicApi}`, tls: tlsBlock(PUBLIC) },
      },
    });
    const privateDir = writeProxySettings('private', {
      metrics: { bind_address: `127.0.0.1:${ports.privateMetrics}` },
      private: {
        name: PRIVATE,
        datastore: { type: 'file', settings: { filename: join(network.dir, 'private.db') } },
        allowed_public_endpoints: [`127.0.0.1:${ports.internal}`],
        internal_endpoint: {
          address: `127.0.0.1:${ports.upstream}`,
          tls: tlsBlock('internal-server', { verify_client: false }),
        },
        jsonrpc_client: gateway(network.ports.get(PRIVATE)!.gateway, PRIVATE),
        jsonrpc_server: { bind_address: `127.0.0.1:${ports.privateApi}`, tls: tlsBlock(PRIVATE) },
      },
    });

    const upstream = startProgram('internal-server', [], { IS_BIND_ADDRESS: `127.0.0.1:${ports.upstream}` });
    procs.push(upstream);
    await upstream.waitFor(/listening/);
    const publicProxy = startProgram('proxy', ['run', 'public'], { PROXY_SETTINGS: publicDir });
    const privateProxy = startProgram('proxy', ['run', 'private'], { PROXY_SETTINGS: privateDir });
    procs.push(publicProxy, privateProxy);
    await publicProxy.waitFor(/Starting public proxy\.\.\.[\s\S]*Waiting for CTRL-C/);
    await privateProxy.waitFor(/Starting private proxy\.\.\.[\s\S]*Waiting for CTRL-C/);
    for (const name of [PUBLIC, PRIVATE, 'hd-1']) await network.start(name);
  });

  after(async () => {
    const codes = await Promise.all(procs.map((p) => p.stop()));
    await network.stop();
    // The proxies stop cleanly on SIGTERM.
    assert.deepEqual(codes.slice(1), [0, 0]);
  });

  it('hd-1 announces the domain through the EPS network; a TLS client then reaches the internal server', async () => {
    const hd1 = network.ports.get('hd-1')!.gateway;
    const announced = await gatewayRequest(hd1, {
      jsonrpc: '2.0',
      method: `${PRIVATE}.announceConnection`,
      params: { domain: DOMAIN, proxy: PUBLIC },
      id: '1',
    });
    assert.equal(announced.status, 200, announced.text);
    assert.equal(announced.json.result, 'ok');

    const listed = await gatewayRequest(hd1, {
      jsonrpc: '2.0',
      method: `${PRIVATE}.getAnnouncements`,
      params: {},
      id: 2,
    });
    assert.deepEqual(listed.json.result, [{ expires_at: null, proxy: PUBLIC, domain: DOMAIN }]);

    const get = await httpsGet(ports.front, 'GET');
    assert.deepEqual(get, { status: 200, json: { message: 'success' } });
    const echo = await httpsGet(ports.front, 'POST', '{"z":1,"a":[1,2]}');
    assert.deepEqual(echo, { status: 200, json: { a: [1, 2], z: 1 } });

    const metrics = await fetch(`http://127.0.0.1:${ports.metrics}/metrics`).then((r) => r.text());
    assert.match(metrics, /proxy_state\{proxy="public",item="announcements"\} 1/);
  });

  it("the private proxy's status page, /status.json and /readyz (its announcement store re-read)", async () => {
    const page = await getPage(ports.privateMetrics, '/');
    assert.equal(page.status, 200);
    assert.match(page.type, /text\/html/);
    assert.match(page.csp, /default-src 'none'/);
    const res = await getPage(ports.privateMetrics, '/status.json');
    assert.equal(res.status, 200);
    const doc = JSON.parse(res.text) as JsonObject;
    assert.equal(doc.program, 'proxy');
    assert.equal(doc.name, PRIVATE);
    assert.deepEqual(doc.proxy, { kind: 'private', name: PRIVATE, announcements: 1 });
    assert.deepEqual(doc.announcements, [{ domain: DOMAIN, proxy: PUBLIC, expires_at: null }]);
    const tunnels = doc.tunnels as JsonObject;
    assert.equal(typeof tunnels.live, 'number');
    assert.equal(typeof tunnels.back_connections, 'number');
    assert.equal(typeof tunnels.bytes_relayed, 'number');
    const ready = await getHealth(ports.privateMetrics, '/readyz');
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.equal(check(ready, 'listeners').detail, 'private proxy listening');
    assert.match(check(ready, 'store').detail, /^announcements in file .*private\.db: read \d+\.\d s ago$/);
  });

  it('hd-1 cannot announce a domain outside its allowed domains', async () => {
    const hd1 = network.ports.get('hd-1')!.gateway;
    const refused = await gatewayRequest(hd1, {
      jsonrpc: '2.0',
      method: `${PRIVATE}.announceConnection`,
      params: { domain: 'example.org', proxy: PUBLIC },
      id: '3',
    });
    assert.equal(refused.status, 400);
    assert.equal((refused.json.error as JsonObject).code, 403);
  });
});

describe('proxy CLI', () => {
  it('exits 1 when the chosen section is missing', async () => {
    const network = new TestNetwork([]);
    try {
      const dir = join(network.dir, 'empty');
      mkdirSync(dir);
      writeFileSync(join(dir, '001_default.json'), '{}');
      const pub = await runProgram('proxy', ['run', 'public'], { PROXY_SETTINGS: dir });
      assert.equal(pub.code, 1);
      assert.match(pub.stderr, /Public settings undefined!/);
      const priv = await runProgram('proxy', ['run', 'private'], { PROXY_SETTINGS: dir });
      assert.equal(priv.code, 1);
      assert.match(priv.stderr, /Private settings undefined!/);
    } finally {
      await network.stop();
    }
  });
});
