/**
 * Real eps processes (hd-1, ls-1, op-1) with the locations backend, over HTTPS and gRPC with generated
 * certificates: the getting-started network, the gateway behaviour of docs/protocol.md#gateway and bad input.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import grpc from '@grpc/grpc-js';
import { ensureCertificates } from '../../src/tls/ensure-certs.js';
import { CERTS, gatewayRequest, TestNetwork } from '../helpers/network.js';
import { foreignCall, foreignClient, fromStruct } from '../helpers/grpc-foreign.js';
import { freePort, REPO_ROOT, startProgram, type Running } from '../helpers/processes.js';
import type { JsonObject } from '../../src/core/json.js';

const call = (method: string, params: JsonObject = {}, id: string | number = '1') => ({
  jsonrpc: '2.0',
  method,
  params,
  id,
});

/** A backend that records what eps delivers and answers per method. */
function echoBackend(): Promise<{ server: http.Server; port: number; seen: JsonObject[] }> {
  const seen: JsonObject[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const msg = JSON.parse(body) as JsonObject;
      seen.push(msg);
      const reply = (o: object): void => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: 7, ...o }));
      };
      if (msg.method === 'slow') setTimeout(() => reply({ result: 'late' }), 3000);
      else if (msg.method === 'list') reply({ result: [1, 2] });
      else if (msg.method === 'empty') reply({ result: {} });
      else if (msg.method === 'fail') reply({ error: { code: 2, message: 'not found', data: 'foo' } });
      else reply({ result: 'ok' });
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as AddressInfo).port, seen }),
    ),
  );
}

describe('eps network: hd-1 -> ls-1 over gRPC, locations backend', () => {
  const everyone = [{ group: 'health-departments', rights: ['call'] }];
  let net: TestNetwork;
  let ls: Running;
  let echo: Awaited<ReturnType<typeof echoBackend>>;
  let hdPort = 0;
  let lsGrpc = 0;
  let metricsPort = 0;

  before(async () => {
    echo = await echoBackend();
    metricsPort = await freePort();
    const lsPort = await freePort();
    ls = startProgram('eps-ls', [], { LS_BIND_ADDRESS: `127.0.0.1:${lsPort}` });
    await ls.waitFor(/listening/);
    net = new TestNetwork([
      {
        name: 'hd-1',
        groups: ['health-departments'],
        grpcServer: true,
        grpcClient: true,
        metricsPort,
        services: [
          { name: 'internals', permissions: everyone, methods: [{ name: '_ping' }, { name: '_directory' }] },
        ],
      },
      {
        name: 'ls-1',
        groups: ['location-services'],
        grpcServer: true,
        backend: `http://127.0.0.1:${lsPort}/jsonrpc`,
        services: [
          {
            name: 'locations',
            permissions: everyone,
            methods: [{ name: 'add' }, { name: 'lookup' }, { name: '_ping' }],
          },
        ],
      },
      {
        name: 'op-1',
        groups: ['operators'],
        grpcServer: true,
        stdout: true,
        backend: `http://127.0.0.1:${echo.port}/jsonrpc`,
        backendTimeout: 1,
        services: [
          {
            name: 'echo',
            permissions: everyone,
            methods: [
              { name: 'echo' },
              { name: 'list' },
              { name: 'empty' },
              { name: 'fail' },
              { name: 'slow' },
              { name: 'requestConnection' },
            ],
          },
        ],
        order: ['jsonrpc_client', 'stdout', 'grpc_server', 'jsonrpc_server'],
      },
      {
        name: 'op-2',
        groups: ['operators'],
        grpcServer: true,
        stdout: true,
        order: ['stdout', 'grpc_server', 'jsonrpc_server'],
        services: [{ name: 'printing', permissions: everyone, methods: [{ name: 'print' }] }],
      },
      {
        name: 'hd-2',
        groups: ['health-departments'],
        grpcServer: true,
        // Nothing listens there: the backend is down.
        backend: `http://127.0.0.1:${await freePort()}/jsonrpc`,
        services: [{ name: 'records', permissions: everyone, methods: [{ name: 'store' }] }],
      },
      // Never started: an operator reachable only through op-1 acting as its proxy.
      { name: 'demo-app', groups: [], grpcServer: { proxy: 'op-1' }, gateway: false },
    ]);
    await net.prepare();
    await Promise.all(['hd-1', 'ls-1', 'op-1', 'op-2', 'hd-2'].map((n) => net.start(n)));
    hdPort = net.ports.get('hd-1')!.gateway;
    lsGrpc = net.ports.get('ls-1')!.grpc;
  });

  after(async () => {
    await net?.stop();
    await ls?.stop();
    echo?.server.close();
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
    const text = await new Promise<string>((resolve, reject) => {
      http
        .get(`http://127.0.0.1:${metricsPort}/metrics`, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
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

  test('remote _ping shows the authenticated caller, and a forged _client is overwritten', async () => {
    const r = await gatewayRequest(hdPort, call('ls-1._ping', { _client: { name: 'forged' }, _caller: 'x' }));
    assert.equal(r.status, 200, r.text);
    const params = (r.json.result as JsonObject).params as JsonObject;
    assert.equal((params._client as JsonObject).name, 'hd-1');
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

  test('respond is not an addressed id (checklist 12)', async () => {
    const r = await gatewayRequest(hdPort, {
      jsonrpc: '2.0',
      method: 'respond',
      id: 'ls-1.add(1)',
      params: {},
    });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, {
      jsonrpc: '2.0',
      error: { code: 1, message: 'error parsing address: invalid ID format', data: {} },
      id: 'ls-1.add(1)',
    });
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

  test('a client certificate from another CA is refused by the gateway', async () => {
    const dev = await ensureCertificates(REPO_ROOT, 'dev');
    await assert.rejects(gatewayRequest(hdPort, call('hd-1._ping'), { certDir: dev.certsDir }));
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

  describe('gRPC from an independent client (@grpc/grpc-js)', () => {
    test('Call with a valid pinned certificate (checklist 26, 30)', async () => {
      const c = foreignClient(lsGrpc, CERTS, 'hd-1', 'ls-1');
      const reply = await foreignCall(c, {
        method: 'ls-1._ping',
        id: 'ls-1._ping(1)',
        clientName: 'hd-1',
        params: {},
      });
      c.close();
      assert.equal(reply.id, 'ls-1._ping(1)');
      const result = fromStruct(reply.result);
      assert.equal(((result.params as JsonObject)._client as JsonObject).name, 'hd-1');
      assert.equal((result.serverInfo as JsonObject).name, 'ls-1');
    });

    test('permission denied is a response with code 403 and no data (checklist 27)', async () => {
      const c = foreignClient(lsGrpc, CERTS, 'op-1', 'ls-1');
      const reply = await foreignCall(c, { method: 'ls-1._ping', id: 'ls-1._ping(1)', clientName: 'op-1' });
      c.close();
      assert.equal(reply.error?.code, 403);
      assert.equal(reply.error?.message, "Permission denied for method '_ping' and client 'op-1'");
      assert.equal(reply.error?.data, undefined);
    });

    test('a claimed name not on the certificate fails with "no matching client" (checklist 28)', async () => {
      const c = foreignClient(lsGrpc, CERTS, 'hd-1', 'ls-1');
      await assert.rejects(
        foreignCall(c, { method: 'ls-1._ping', id: 'ls-1._ping(1)', clientName: 'op-1' }),
        (e: grpc.ServiceError) => e.code === grpc.status.UNKNOWN && e.details === 'no matching client',
      );
      const ok = await foreignCall(c, { method: 'ls-1._ping', id: 'ls-1._ping(1)', clientName: '' });
      assert.equal(((fromStruct(ok.result).params as JsonObject)._client as JsonObject).name, 'hd-1');
      c.close();
    });

    test('unparsable ids and method/id mismatch are refused (checklist 29, weak point S1)', async () => {
      const c = foreignClient(lsGrpc, CERTS, 'hd-1', 'ls-1');
      await assert.rejects(
        foreignCall(c, { method: 'ls-1.add', id: 'ls-1.add()', clientName: 'hd-1' }),
        (e: grpc.ServiceError) =>
          e.code === grpc.status.UNKNOWN &&
          e.details === 'error handling gRPC request: error parsing address: invalid ID format',
      );
      await assert.rejects(
        foreignCall(c, { method: 'ls-1.dropTables', id: 'ls-1.add(1)', clientName: 'hd-1', params: {} }),
        (e: grpc.ServiceError) =>
          e.code === grpc.status.UNKNOWN && /does not match the addressed ID/.test(e.details),
      );
      c.close();
    });

    test('a valid certificate that is not pinned, or from another CA, fails (checklist 32)', async () => {
      const alt = foreignClient(lsGrpc, CERTS, 'hd-1-alt', 'ls-1');
      await assert.rejects(
        foreignCall(alt, { method: 'ls-1._ping', id: 'ls-1._ping(1)', clientName: 'hd-1' }),
        (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE,
      );
      alt.close();
      const dev = join(REPO_ROOT, 'settings/dev/certs');
      const other = foreignClient(lsGrpc, dev, 'hd-1', 'ls-1');
      await assert.rejects(
        foreignCall(other, { method: 'ls-1._ping', id: 'ls-1._ping(1)', clientName: 'hd-1' }),
        (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE,
      );
      other.close();
    });

    test('messages over 4 MiB are rejected with RESOURCE_EXHAUSTED (checklist 34)', async () => {
      const c = foreignClient(lsGrpc, CERTS, 'hd-1', 'ls-1');
      await assert.rejects(
        foreignCall(c, {
          method: 'ls-1._ping',
          id: 'ls-1._ping(1)',
          clientName: 'hd-1',
          params: { big: 'x'.repeat(4_300_000) },
        }),
        (e: grpc.ServiceError) => e.code === grpc.status.RESOURCE_EXHAUSTED,
      );
      const ok = await foreignCall(c, { method: 'ls-1._ping', id: 'ls-1._ping(1)', clientName: 'hd-1' });
      assert.equal(ok.id, 'ls-1._ping(1)');
      c.close();
    });

    test('a local delivery without response yields only the id (checklist 31)', async () => {
      const c = foreignClient(net.ports.get('op-2')!.grpc, CERTS, 'hd-1', 'op-2');
      const reply = await foreignCall(c, {
        method: 'op-2.print',
        id: 'op-2.print(1)',
        clientName: 'hd-1',
        params: {},
      });
      c.close();
      assert.equal(reply.id, 'op-2.print(1)');
      assert.equal(reply.result, undefined);
      assert.equal(reply.error, undefined);
    });
  });
});
