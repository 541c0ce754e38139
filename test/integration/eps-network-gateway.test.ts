/**
 * Real eps processes (hd-1, ls-1, op-1, op-2, hd-2) with the locations backend, over HTTPS and gRPC with
 * generated certificates: the getting-started network, the gateway behaviour of docs/protocol.md#gateway,
 * delivery to backends (docs/protocol.md#backends) and bad input.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureCertificates } from '../../src/tls/ensure-certs.js';
import { gatewayRequest, metricsText } from '../helpers/network.js';
import { REPO_ROOT } from '../helpers/processes.js';
import { call, startLocationsNetwork, type LocationsNetwork } from '../helpers/eps-network-fixture.js';
import type { JsonObject } from '../../src/core/json.js';

describe('eps network: hd-1 -> ls-1 over gRPC, locations backend', () => {
  let network: LocationsNetwork;
  let net: LocationsNetwork['net'];
  let echo: LocationsNetwork['echo'];
  let hdPort = 0;
  let metricsPort = 0;

  before(async () => {
    network = await startLocationsNetwork();
    ({ net, echo, hdPort, metricsPort } = network);
  });

  after(async () => {
    await network?.stop();
  });

  test('getting started: ls-1.add then ls-1.lookup through hd-1 return the stored location', async () => {
    const add = await gatewayRequest(hdPort, call('ls-1.add', { name: 'Ginos', id: 'af5ca4da5caa' }));
    assert.equal(add.status, 200, add.text);
    assert.deepEqual(add.json, { jsonrpc: '2.0', result: 'ok', id: '1' });
    const lookup = await gatewayRequest(hdPort, call('ls-1.lookup', { name: 'Ginos' }, 2));
    assert.equal(lookup.status, 200, lookup.text);
    assert.deepEqual(lookup.json, { jsonrpc: '2.0', result: { name: 'Ginos', id: 'af5ca4da5caa' }, id: 2 });
  });

  test('metrics: request counters by origin and outcome on /metrics', async () => {
    await gatewayRequest(hdPort, call('hd-1._ping'));
    await gatewayRequest(hdPort, call('nobody.foo'));
    const text = await metricsText(metricsPort);
    assert.match(text, /eps_requests_total\{entry="local",outcome="ok"\} [1-9]/);
    assert.match(text, /eps_requests_total\{entry="local",outcome="failed"\} [1-9]/);
    assert.match(text, /eps_request_duration_seconds_bucket/);
    assert.match(text, /process_cpu_user_seconds_total/);
  });

  test('a backend error crosses gRPC unchanged (checklist 21)', async () => {
    const r = await gatewayRequest(hdPort, call('ls-1.lookup', { name: 'nobody-here' }));
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, {
      jsonrpc: '2.0',
      error: { code: 2, message: 'not found', data: 'foo' },
      id: '1',
    });
  });

  test('_ping on the own gateway (checklist 10)', async () => {
    const r = await gatewayRequest(hdPort, call('hd-1._ping', { a: 1 }));
    assert.equal(r.status, 200);
    const result = r.json.result as JsonObject;
    assert.equal((result.params as JsonObject).a, 1);
    assert.equal(((result.params as JsonObject)._client as JsonObject).name, 'hd-1');
    assert.equal((result.serverInfo as JsonObject).name, 'hd-1');
    assert.equal(typeof result.version, 'string');
    assert.match(result.timestamp as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    assert.equal(r.json.id, '1');
  });

  test('remote _ping shows the authenticated caller, and a forged _client or _caller is not echoed', async () => {
    const r = await gatewayRequest(hdPort, call('ls-1._ping', { _client: { name: 'forged' }, _caller: 'x' }));
    assert.equal(r.status, 200, r.text);
    const params = (r.json.result as JsonObject).params as JsonObject;
    assert.equal((params._client as JsonObject).name, 'hd-1');
    // `_caller` is the backends' alias of `_client` (see async-direct.test.ts); `_ping` echoes only `_client`.
    assert.equal(params._caller, undefined);
    assert.equal(((r.json.result as JsonObject).serverInfo as JsonObject).name, 'ls-1');
  });

  test('_directory filters by operator; an empty channel list matches nothing (checklist 11)', async () => {
    const r = await gatewayRequest(hdPort, call('hd-1._directory', { operator: 'ls-1' }));
    const entries = (r.json.result as JsonObject).entries as JsonObject[];
    assert.deepEqual(
      entries.map((e) => e.name),
      ['ls-1'],
    );
    const none = await gatewayRequest(hdPort, call('hd-1._directory', { channels: [] }));
    assert.deepEqual((none.json.result as JsonObject).entries, []);
  });

  test("respond is the gateway's own method, not an addressed id (checklist 12, changed by issue 12)", async () => {
    // The original answered `invalid ID format`; ours answers asynchronous requests (docs/protocol.md).
    const r = await gatewayRequest(hdPort, {
      jsonrpc: '2.0',
      method: 'respond',
      id: 'ls-1.add(1)',
      params: {},
    });
    assert.equal(r.status, 400);
    const error = r.json.error as JsonObject;
    assert.equal((error.data as JsonObject).code, 'ERR_ASYNC_INVALID');
    assert.equal(r.json.id, 'ls-1.add(1)');
    const unknown = await gatewayRequest(hdPort, {
      jsonrpc: '2.0',
      method: 'respond',
      id: 'ls-1.add(1)',
      params: { result: 1 },
    });
    assert.equal(((unknown.json.error as JsonObject).data as JsonObject).code, 'ERR_ASYNC_UNKNOWN_ID');
  });

  test('unknown operator (checklist 13) and unknown method (403) get clear errors', async () => {
    const r = await gatewayRequest(hdPort, call('nobody.foo'));
    assert.equal(r.status, 400);
    assert.deepEqual(r.json.error, {
      code: 1,
      message: "error retrieving directory entry for recipient 'nobody': no directory entry found",
      data: {},
    });
    const m = await gatewayRequest(hdPort, call('ls-1.dropTables'));
    assert.equal(m.status, 400);
    assert.deepEqual(m.json.error, {
      code: 403,
      message: "Permission denied for method 'dropTables' and client 'hd-1'",
      data: {},
    });
  });

  test('concurrent calls with the same id do not collide (fixes checklist 14 / B1)', async () => {
    const replies = await Promise.all(
      Array.from({ length: 8 }, () => gatewayRequest(hdPort, call('ls-1._ping', {}, 1))),
    );
    for (const r of replies) assert.equal(r.status, 200, r.text);
  });

  test('other paths get 404 (checklist 15); CORS preflight (checklist 16)', async () => {
    const r = await gatewayRequest(hdPort, '', { path: '/other' });
    assert.equal(r.status, 404);
    assert.deepEqual(r.json, { message: 'not found' });
    const pre = await gatewayRequest(hdPort, '', {
      method: 'OPTIONS',
      headers: { Origin: 'http://localhost:3000' },
    });
    assert.equal(pre.status, 200);
    assert.equal(pre.text, '');
    assert.equal(pre.headers['access-control-allow-origin'], 'http://localhost:3000');
    assert.equal(pre.headers['access-control-max-age'], '60');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET, POST, PATCH, PUT, DELETE, OPTIONS');
    const denied = await gatewayRequest(hdPort, '', {
      method: 'OPTIONS',
      headers: { Origin: 'http://evil.example' },
    });
    assert.equal(denied.headers['access-control-allow-origin'], undefined);
  });

  test('stdout first: a local call is printed and answered "submitted" (checklist 17)', async () => {
    const port = net.ports.get('op-2')!.gateway;
    const r = await gatewayRequest(port, call('op-2.print', { x: 1 }), { as: 'op-2', name: 'op-2' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.result, { message: 'submitted' });
    const remote = await gatewayRequest(hdPort, call('op-2.print', { x: 2 }));
    assert.deepEqual(remote.json, { jsonrpc: '2.0', result: {}, id: '1' });
  });

  test('value conversion and what the backend receives (checklist 19, 20, 22, 23)', async () => {
    const list = await gatewayRequest(hdPort, call('op-1.list'));
    assert.deepEqual(list.json.result, [1, 2]);
    const empty = await gatewayRequest(hdPort, call('op-1.empty'));
    assert.deepEqual(empty.json.result, {});
    echo.seen.length = 0;
    const r = await gatewayRequest(hdPort, call('op-1.echo', { v: 1, _client: { name: 'forged' } }, 5));
    assert.equal(r.json.result, 'ok');
    const got = echo.seen[0]!;
    assert.equal(got.method, 'echo');
    assert.equal(got.id, 'op-1.echo(n:5)');
    const params = got.params as JsonObject;
    assert.equal(params.v, 1);
    assert.equal((params._client as JsonObject).name, 'hd-1');
    assert.equal(((params._client as JsonObject).entry as JsonObject).name, 'hd-1');
  });

  test('malformed JSON, wrong shape and oversized bodies get clear errors and the server stays up', async () => {
    const bad = await gatewayRequest(hdPort, '{"jsonrpc": "2.0", "method": ');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error && (bad.json.error as JsonObject).code, -32700);
    const shape = await gatewayRequest(hdPort, { jsonrpc: '2.0', method: 'ls-1.add', params: [1, 2] });
    assert.equal((shape.json.error as JsonObject).code, -32600);
    const huge = await gatewayRequest(hdPort, call('ls-1.add', { blob: 'x'.repeat(100_000) }));
    assert.equal(huge.status, 413);
    assert.match((huge.json.error as JsonObject).message as string, /too large/);
    const still = await gatewayRequest(hdPort, call('hd-1._ping'));
    assert.equal(still.status, 200);
  });

  test('a request nested too deep gets a JSON-RPC error and a log line; the server stays up', async () => {
    // 30,000 levels fit the test gateway's 64 KiB body limit and used to overflow the stack (HTTP 500).
    const depth = 30_000;
    const body = `{"jsonrpc":"2.0","method":"ls-1.add","id":7,"params":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    const deep = await gatewayRequest(hdPort, body);
    assert.equal(deep.status, 400);
    assert.equal(deep.json.jsonrpc, '2.0');
    const error = deep.json.error as JsonObject;
    assert.equal(error.code, -32600);
    assert.match(error.message as string, /nested too deep \(limit 64 levels\)/);
    await network.processes.get('hd-1')!.waitFor(/request nested too deep/, 5000);
    const still = await gatewayRequest(hdPort, call('hd-1._ping'));
    assert.equal(still.status, 200);
  });

  test('a client certificate from another CA is refused by the gateway', async () => {
    const dev = await ensureCertificates(REPO_ROOT, 'dev');
    await assert.rejects(gatewayRequest(hdPort, call('hd-1._ping'), { certDir: dev.certsDir }));
  });

  test("another operator's pinned certificate is refused by the gateway; the own one is served", async () => {
    // ls-1's node certificate chains to the same CA: TLS alone would let ls-1 act as hd-1 here.
    await assert.rejects(gatewayRequest(hdPort, call('hd-1._ping'), { as: 'ls-1' }));
    const own = await gatewayRequest(hdPort, call('hd-1._ping'), { as: 'hd-1' });
    assert.equal(own.status, 200, own.text);
  });

  test('a backend that is down gives a clear channel error; the server stays up', async () => {
    const r = await gatewayRequest(hdPort, call('hd-2.store', { x: 1 }));
    assert.equal(r.status, 400);
    assert.equal((r.json.error as JsonObject).code, 500);
    assert.match(
      (r.json.error as JsonObject).message as string,
      /^Channel 0 encountered an error delivering the message: error calling JSON-RPC server: .*ECONNREFUSED/,
    );
    const again = await gatewayRequest(hdPort, call('hd-2._ping'));
    assert.equal(again.status, 400); // hd-2 does not grant _ping: a 403, but from a live server
    assert.equal((again.json.error as JsonObject).code, 403);
  });

  test("P2P: the caller asks the callee's proxy with <proxy>.requestConnection(<16 hex>) (checklist 41, 46)", async () => {
    echo.seen.length = 0;
    const r = await gatewayRequest(hdPort, call('demo-app.anything'));
    // op-1's backend answers "ok" instead of {token, endpoint}: the dial fails with a clear error.
    assert.equal(r.status, 400);
    assert.match((r.json.error as JsonObject).message as string, /invalid connection details from proxy/);
    const asked = echo.seen.find((m) => m.method === 'requestConnection')!;
    assert.match(asked.id as string, /^op-1\.requestConnection\([0-9a-f]{16}\)$/);
    const params = asked.params as JsonObject;
    assert.equal(params.to, 'demo-app');
    assert.equal(params.channel, 'grpc_server');
    assert.equal((params._client as JsonObject).name, 'hd-1');
  });

  test('a slow backend times out with a channel error; the server stays up', async () => {
    const r = await gatewayRequest(hdPort, call('op-1.slow'));
    // op-1's backend timeout (1 s in the test settings) fires long before the 3 s answer.
    assert.equal(r.status, 400);
    assert.equal((r.json.error as JsonObject).code, 500);
    assert.match(
      (r.json.error as JsonObject).message as string,
      /Channel 0 encountered an error delivering the message: error calling JSON-RPC server: no response within 1s/,
    );
  });
});
