/**
 * P2P through the public proxy with real processes and OS-chosen ports: hd-1 calls hd-2, which is only
 * reachable through public-proxy-1.ga; the proxy pairs the two outbound sockets by token and relays the
 * end-to-end TLS it cannot read. Covers start order, tunnel reuse, re-brokering after the proxy restarts,
 * concurrency, and a forged `_client` in `requestConnection`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayRequest, type TestNetwork } from '../helpers/network.js';
import { p2pNetwork, PROXY_OPERATOR as P } from '../helpers/p2p-network.js';
import type { Running } from '../helpers/processes.js';
import type { JsonObject } from '../../src/core/json.js';

const call = (method: string, params: JsonObject = {}, id: string | number = '1') => ({
  jsonrpc: '2.0',
  method,
  params,
  id,
});

function tunnels(p: Running): number {
  return (p.output().match(/P2P tunnel established/g) ?? []).length;
}

describe('P2P: hd-1 -> public proxy -> hd-2', () => {
  let net: TestNetwork;
  let hd1: Running;
  let hd2: Running;
  let proxy: Running;
  let operator: Running;
  let proxyDir = '';
  let hdPort = 0;

  const ping = (params: JsonObject = {}, id: string | number = '1') =>
    gatewayRequest(hdPort, call('hd-2._ping', params, id));

  before(async () => {
    ({ net, proxyDir } = await p2pNetwork());
    // The eps servers start before the proxy operator's eps and the proxy: start order must not matter.
    hd1 = await net.start('hd-1');
    hd2 = await net.start('hd-2', {}, ['--level', 'debug']);
    operator = await net.start(P);
    proxy = await net.startProxy('public', proxyDir);
    hdPort = net.ports.get('hd-1')!.gateway;
    // hd-2 reconnects by itself (backoff) once the proxy operator's eps is up; no call works before.
    await operator.waitFor(/reverse stream registered" peer=hd-2/);
  });

  after(async () => {
    await net?.stop();
  });

  test("the seed ping: hd-2._ping through hd-1 returns hd-2's answer", async () => {
    const r = await ping({ a: 1 }, '1');
    assert.equal(r.status, 200, r.text);
    const result = r.json.result as JsonObject;
    assert.equal(typeof result.version, 'string');
    assert.equal(typeof result.timestamp, 'string');
    assert.equal((result.params as JsonObject).a, 1);
    assert.equal(((result.params as JsonObject)._client as JsonObject).name, 'hd-1');
    assert.equal((result.serverInfo as JsonObject).name, 'hd-2');
  });

  test('later calls reuse the tunnel, also many at once', async () => {
    const before = tunnels(hd1);
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => ping({ i }, i)));
    replies.forEach((r, i) => {
      assert.equal(r.status, 200, r.text);
      assert.equal(((r.json.result as JsonObject).params as JsonObject).i, i);
    });
    assert.equal(tunnels(hd1), before, 'no new tunnel was brokered');
  });

  test('a broken tunnel is brokered again on the next call (proxy restarted)', async () => {
    const before = tunnels(hd1);
    // Killed: the tunnel breaks at once (a SIGTERM holds it for the drain, 5 s; proxy-drain.test.ts).
    await proxy.stop('SIGKILL');
    proxy = await net.startProxy('public', proxyDir);
    const listening = performance.now();
    const r = await ping({}, '2');
    const ms = performance.now() - listening;
    assert.equal(r.status, 200, r.text);
    assert.ok(tunnels(hd1) > before, 'a new tunnel was brokered');
    // Issue 11: a restarted proxy is used again within 1 s of listening.
    console.log(`# first call through the restarted proxy answered ${Math.round(ms)} ms after it listened`);
    assert.ok(ms < 1000, `answered ${Math.round(ms)} ms after the proxy listened`);
  });

  test("the proxy operator's eps restarted (SIGTERM): it stops at once, hd-2's reverse stream is back within 1 s", async () => {
    const started = performance.now();
    assert.equal(await operator.stop(), 0);
    const stopMs = performance.now() - started;
    operator = await net.start(P);
    const listening = performance.now();
    await operator.waitFor(/reverse stream registered" peer=hd-2/);
    const backMs = performance.now() - listening;
    const r = await ping({}, '3');
    assert.equal(r.status, 200, r.text);
    console.log(
      `# operator eps stopped in ${Math.round(stopMs)} ms; hd-2's stream back ${Math.round(backMs)} ms after it listened`,
    );
    assert.ok(stopMs < 2000, `stopped in ${Math.round(stopMs)} ms (reverse streams ended, not waited for)`);
    assert.ok(backMs < 1000, `reverse stream back after ${Math.round(backMs)} ms`);
  });

  test('a forged _client in requestConnection is ignored: the proxy sees the authenticated caller', async () => {
    // hd-1 asks the proxy operator directly, claiming to be somebody else.
    const r = await gatewayRequest(
      hdPort,
      call(`${P}.requestConnection`, {
        to: 'hd-2',
        channel: 'grpc_server',
        _client: { name: 'hd-2', entry: { name: 'hd-2', channels: [] } },
      }),
    );
    assert.equal(r.status, 200, r.text);
    const result = r.json.result as JsonObject;
    assert.match(result.token as string, /^[A-Za-z0-9+/]{43}=$/);
    assert.equal(typeof result.endpoint, 'string');
    // hd-2 received a _connectionRequest whose `client` is hd-1 (the authenticated caller), not hd-2.
    await hd2.waitFor(/P2P socket handed to the gRPC server.*client=hd-1/);
    assert.doesNotMatch(hd2.output(), /P2P socket handed to the gRPC server.*client=hd-2/);
  });
});
