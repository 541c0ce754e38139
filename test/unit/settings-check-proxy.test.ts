// Tests of `proxy settings check` connecting to the proxies' targets (src/settings-check/backends.ts): the
// private proxy's internal endpoint and allowed public endpoints (errors when unreachable), the public
// proxy's advertised internal endpoint (a warning: its own listener), and an HTTP proxy_url that replaces
// the direct connect to its endpoint. Real listeners and closed ports on 127.0.0.1.
import assert from 'node:assert/strict';
import net from 'node:net';
import { relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkSettings, exitCodeOf, formatReport } from '../../src/settings-check/index.js';
import { freePort } from '../helpers/processes.js';
import { tempTree } from '../helpers/settings-fixtures.js';

let live: net.Server;
let livePort: number;

before(async () => {
  live = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => live.listen(0, '127.0.0.1', resolve));
  livePort = (live.address() as net.AddressInfo).port;
});

after(() => new Promise<void>((resolve) => live.close(() => resolve())));

async function proxyReport(yaml: string[]): Promise<{ text: string; code: number }> {
  const tree = await tempTree({ 'settings/001.yml': yaml.join('\n') + '\n' });
  try {
    const findings = await checkSettings('proxy', tree.path('settings'));
    return { text: formatReport(findings, (file) => relative(tree.root, file)), code: exitCodeOf(findings) };
  } finally {
    await tree.remove();
  }
}

const STORE = "  datastore: {type: file, settings: {filename: '/$DIR/../data/announcements'}}";
const SERVER = "  jsonrpc_server: {bind_address: '127.0.0.1:0'}";

describe('proxy settings check: the proxy targets', () => {
  it('private proxy: an unreachable internal endpoint and public endpoint are errors, a live one passes', async () => {
    const dead = [await freePort(), await freePort()];
    const { text, code } = await proxyReport([
      'private:',
      '  name: private-proxy-1.ga',
      STORE,
      `  internal_endpoint: {address: '127.0.0.1:${dead[0]}'}`,
      `  allowed_public_endpoints: ['127.0.0.1:${livePort}', '127.0.0.1:${dead[1]}']`,
      `  jsonrpc_client: {endpoint: 'http://127.0.0.1:${livePort}/jsonrpc'}`,
      SERVER,
    ]);
    assert.ok(
      text.includes(
        `ERROR settings/001.yml: private.internal_endpoint.address: 127.0.0.1:${dead[0]} unreachable: ECONNREFUSED`,
      ),
      text,
    );
    assert.ok(
      text.includes(
        `ERROR settings/001.yml: private.allowed_public_endpoints[1]: 127.0.0.1:${dead[1]} unreachable`,
      ),
      text,
    );
    assert.doesNotMatch(text, /allowed_public_endpoints\[0\]|jsonrpc_client/);
    assert.match(text, /settings check: 2 error\(s\), 0 warning\(s\)/);
    assert.equal(code, 1);
  });

  it('public proxy: its own advertised internal endpoint down is a warning (exit 0); up, nothing', async () => {
    const dead = await freePort();
    const settings = (endpoint: number): string[] => [
      'public:',
      '  name: public-proxy-1.ga',
      STORE,
      "  tls_bind_address: '127.0.0.1:0'",
      "  internal_bind_address: '127.0.0.1:0'",
      `  internal_endpoint: '127.0.0.1:${endpoint}'`,
      `  jsonrpc_client: {endpoint: 'http://127.0.0.1:${livePort}/jsonrpc'}`,
      SERVER,
    ];
    const down = await proxyReport(settings(dead));
    assert.ok(
      down.text.includes(
        `WARNING settings/001.yml: public.internal_endpoint: 127.0.0.1:${dead} unreachable: ECONNREFUSED (this proxy's advertised internal endpoint`,
      ),
      down.text,
    );
    assert.equal(down.code, 0, down.text);
    const up = await proxyReport(settings(livePort));
    assert.match(up.text, /0 error\(s\), 0 warning\(s\)/);
    assert.equal(up.code, 0);
  });

  it('a proxy_url is connected to instead of the endpoint behind it', async () => {
    const dead = [await freePort(), await freePort()];
    const client = (proxyPort: number): string[] => [
      'private:',
      '  name: private-proxy-1.ga',
      STORE,
      `  internal_endpoint: {address: '127.0.0.1:${livePort}'}`,
      '  jsonrpc_client:',
      `    endpoint: 'http://127.0.0.1:${dead[0]}/jsonrpc'`,
      `    proxy_url: 'http://127.0.0.1:${proxyPort}'`,
      SERVER,
    ];
    const through = await proxyReport(client(livePort));
    assert.match(through.text, /0 error\(s\), 0 warning\(s\)/, 'the endpoint is reached through the proxy');
    const proxyDown = await proxyReport(client(dead[1]!));
    assert.ok(
      proxyDown.text.includes(
        `ERROR settings/001.yml: private.jsonrpc_client.proxy_url: http://127.0.0.1:${dead[1]} unreachable`,
      ),
      proxyDown.text,
    );
    assert.equal(proxyDown.code, 1);
  });
});
