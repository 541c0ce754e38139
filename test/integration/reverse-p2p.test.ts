/**
 * Reverse streams (ServerCall) and the callee side of P2P with real eps processes: hd-2 has no reachable
 * gRPC server (it names a proxy), keeps a reverse stream to the proxy operator's eps, and is reached over it;
 * `_connectionRequest` from the proxy operator makes hd-2 dial a given endpoint, send the token and serve TLS.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CERTS, gatewayRequest, pinnedEntries, TestNetwork } from '../helpers/network.js';
import { dialTls } from '../../src/grpc/dial.js';
import { GrpcSession } from '../../src/grpc/client.js';
import { decodeResponse, encodeRequest } from '../../src/grpc/codec.js';
import { loadTls } from '../../src/tls/options.js';
import { fingerprintOfPem } from '../../src/tls/fingerprint.js';
import type { JsonObject } from '../../src/core/json.js';
import { Deadline } from '../../src/core/deadline.js';

const P = 'public-proxy-1.ga';
const call = (method: string, params: JsonObject = {}, id: string | number = '1') => ({
  jsonrpc: '2.0',
  method,
  params,
  id,
});

describe('reverse streams and P2P callee', () => {
  let net_: TestNetwork;
  let pPort = 0;

  before(async () => {
    net_ = new TestNetwork([
      {
        name: P,
        groups: ['proxy-providers'],
        grpcServer: true,
        grpcClient: true,
        services: [
          {
            name: 'internals',
            permissions: [{ group: '*', rights: ['call'] }],
            methods: [{ name: '_ping' }],
          },
        ],
      },
      {
        name: 'hd-2',
        groups: ['health-departments'],
        grpcServer: { proxy: P },
        grpcClient: true,
        services: [
          {
            name: 'connection-requests',
            permissions: [{ group: 'proxy-providers', rights: ['call'] }],
            methods: [{ name: '_connectionRequest' }],
          },
          {
            name: 'internals',
            permissions: [
              { group: 'proxy-providers', rights: ['call'] },
              { group: 'health-departments', rights: ['call'] },
            ],
            methods: [{ name: '_ping' }],
          },
        ],
      },
      // Another operator that hd-2 permits (same group as the proxy) but that is not hd-2's proxy.
      { name: 'op-1', groups: ['proxy-providers'], grpcServer: true, grpcClient: true },
    ]);
    await net_.prepare();
    // hd-2 first: it must retry until the proxy operator's eps is up (start order must not matter).
    await net_.start('hd-2');
    const operator = await net_.start(P);
    pPort = net_.ports.get(P)!.gateway;
    await operator.waitFor(/reverse stream registered" peer=hd-2/);
  });

  after(async () => {
    await net_?.stop();
  });

  async function pingHd2(): Promise<JsonObject> {
    const r = await gatewayRequest(pPort, call('hd-2._ping', { x: 1 }), { as: P, name: P });
    assert.equal(r.status, 200, r.text);
    return r.json;
  }

  test("the proxy operator reaches hd-2 over hd-2's reverse stream, started in either order", async () => {
    const r = await pingHd2();
    const result = r.result as JsonObject;
    assert.equal((result.serverInfo as JsonObject).name, 'hd-2');
    assert.equal(((result.params as JsonObject)._client as JsonObject).name, P);
  });

  test('many requests in flight on one reverse stream all get their own answers', async () => {
    await pingHd2();
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        gatewayRequest(pPort, call('hd-2._ping', { n: i }, i), { as: P, name: P }),
      ),
    );
    replies.forEach((r, i) => {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.id, i);
      assert.equal(((r.json.result as JsonObject).params as JsonObject).n, i);
    });
  });

  test('_connectionRequest: hd-2 dials the endpoint, writes exactly the token, serves TLS + gRPC (checklist 43, 44)', async () => {
    await pingHd2();
    const listener = net.createServer();
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const port = (listener.address() as net.AddressInfo).port;
    const token = randomBytes(32);
    const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
    const r = await gatewayRequest(
      pPort,
      call('hd-2._connectionRequest', {
        endpoint: `127.0.0.1:${port}`,
        token: token.toString('base64'),
        channel: 'grpc_server',
        client: { name: 'hd-1', entry: { name: 'hd-1', channels: [] } },
      }),
      { as: P, name: P },
    );
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.result, {});
    const [socket] = await accepted;
    const first = await new Promise<Buffer>((resolve) => {
      let buf = Buffer.alloc(0);
      const onData = (d: Buffer): void => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 32) {
          socket.off('data', onData);
          socket.pause();
          resolve(buf);
        }
      };
      socket.on('data', onData);
    });
    assert.deepEqual(first, token, 'exactly the 32 token bytes, nothing else');
    // Act as op-1 (permitted to _ping hd-2): TLS client with SNI hd-2 over this socket, then a gRPC Call.
    const hd2 = pinnedEntries().get('hd-2')!;
    assert.equal(
      hd2.certificates.find((c) => c.key_usage === 'encryption')!.fingerprint,
      fingerprintOfPem(readFileSync(join(CERTS, 'hd-2.crt'), 'utf8')),
    );
    socket.resume();
    const dialled = await dialTls({
      peer: 'hd-2',
      tls: loadTls({
        ca_certificate_files: [join(CERTS, 'root.crt')],
        certificate_file: join(CERTS, 'op-1.crt'),
        key_file: join(CERTS, 'op-1.key'),
      }),
      lookup: (n) => (n === 'hd-2' ? hd2 : undefined),
      deadline: Deadline.after(5000),
      socket,
    });
    const session = new GrpcSession('hd-2', dialled.socket);
    const reply = decodeResponse(
      await session.unary(
        '/EPS/Call',
        encodeRequest({ method: 'hd-2._ping', id: 'hd-2._ping(7)', clientName: 'op-1', params: {} }),
        Deadline.after(5000),
      ),
    );
    session.close();
    listener.close();
    assert.equal(reply.id, 'hd-2._ping(7)');
    assert.equal(reply.error, undefined);
    assert.equal(((reply.result!.params as JsonObject)._client as JsonObject).name, 'op-1');
  });

  test('_connectionRequest with another channel or a bad token fails clearly (checklist 45)', async () => {
    await pingHd2();
    const base = { endpoint: '127.0.0.1:1', client: { name: 'hd-1', entry: { name: 'hd-1', channels: [] } } };
    const other = await gatewayRequest(
      pPort,
      call('hd-2._connectionRequest', {
        ...base,
        channel: 'other',
        token: randomBytes(32).toString('base64'),
      }),
      { as: P, name: P },
    );
    assert.match((other.json.error as JsonObject).message as string, /no channel accepted the request/);
    const bad = await gatewayRequest(
      pPort,
      call('hd-2._connectionRequest', { ...base, channel: 'grpc_server', token: 'a-b_' }),
      { as: P, name: P },
    );
    assert.match(
      (bad.json.error as JsonObject).message as string,
      /token\(illegal base64 data at input byte 1\)/,
    );
  });

  test("only hd-2's own proxy may make it dial, not another permitted operator (weak point S3)", async () => {
    const op = await net_.start('op-1');
    const port = net_.ports.get('op-1')!.gateway;
    const params = {
      endpoint: '127.0.0.1:1',
      channel: 'grpc_server',
      token: randomBytes(32).toString('base64'),
      client: { name: 'hd-1', entry: { name: 'hd-1', channels: [] } },
    };
    // hd-2 opens a reverse stream to op-1 (it may call hd-2); wait for it instead of polling.
    await op.waitFor(/reverse stream registered" peer=hd-2/);
    const r = await gatewayRequest(port, call('hd-2._connectionRequest', params), {
      as: 'op-1',
      name: 'op-1',
    });
    await op.stop();
    assert.match(
      (r.json.error as JsonObject).message as string,
      /connection requests are only accepted from our proxy 'public-proxy-1.ga', not 'op-1'/,
    );
  });
});
