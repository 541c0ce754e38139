/**
 * Private proxy delivery modes with real sockets (docs/protocol.md#normal-mode): terminating mode
 * requiring a client certificate, the internal server down, validated JSON-RPC forwarding, and pass-through.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { JsonObject } from '../../src/core/json.js';
import { createInternalServer } from '../../examples/internal-server.js';
import { CERTS, tlsBlock } from '../helpers/network.js';
import { listen } from '../helpers/net-pair.js';
import { DOMAIN, PUBLIC_NAME, startPrivateProxy } from '../helpers/proxy-fixtures.js';
import { backConnection, requestOver, startHttp, stopHttp } from '../helpers/private-proxy-client.js';
import { waitFor } from '../helpers/wait.js';

describe('private proxy: other delivery modes', () => {
  it('requires a client certificate by default in terminating mode (verify_client, item 29)', async () => {
    const internal = createInternalServer(false, CERTS);
    const internalPort = await startHttp(internal);
    const publicPort = await listen();
    const endpoint = `127.0.0.1:${publicPort.port}`;
    const h = await startPrivateProxy({
      settings: {
        internal_endpoint: { address: `127.0.0.1:${internalPort}`, tls: tlsBlock('internal-server') },
      },
    });
    try {
      h.proxy.announcements.upsert({ domain: DOMAIN, owner: PUBLIC_NAME, expiresAt: null });
      await assert.rejects(requestOver(await backConnection(h.api, publicPort, endpoint)));
      const response = await requestOver(await backConnection(h.api, publicPort, endpoint), { as: 'hd-1' });
      assert.equal(response.status, 200);
    } finally {
      await h.stop();
      await publicPort.close();
      await stopHttp(internal);
    }
  });

  it('answers 502 when the internal server is down', async () => {
    const publicPort = await listen();
    const endpoint = `127.0.0.1:${publicPort.port}`;
    const h = await startPrivateProxy({
      settings: {
        internal_endpoint: {
          address: '127.0.0.1:1',
          tls: tlsBlock('internal-server', { verify_client: false }),
        },
      },
    });
    try {
      h.proxy.announcements.upsert({ domain: DOMAIN, owner: PUBLIC_NAME, expiresAt: null });
      const socket = await backConnection(h.api, publicPort, endpoint);
      const response = await requestOver(socket);
      assert.equal(response.status, 502);
    } finally {
      await h.stop();
      await publicPort.close();
    }
  });

  it('validated JSON-RPC forwarding: only the path, only valid requests, ids normalised', async () => {
    const seen: JsonObject[] = [];
    const upstream = http.createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => (text += d.toString()));
      req.on('end', () => {
        const body = JSON.parse(text) as JsonObject;
        seen.push(body);
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', result: 'done', id: body.id }));
      });
    });
    const upstreamPort = await startHttp(upstream);
    const publicPort = await listen();
    const endpoint = `127.0.0.1:${publicPort.port}`;
    const h = await startPrivateProxy({
      settings: {
        internal_endpoint: {
          address: '127.0.0.1:1',
          tls: tlsBlock('internal-server', { verify_client: false }),
          jsonrpc_client: { endpoint: `http://127.0.0.1:${upstreamPort}/rpc` },
        },
      },
    });
    h.proxy.announcements.upsert({ domain: DOMAIN, owner: PUBLIC_NAME, expiresAt: null });
    const over = async (opts: Parameters<typeof requestOver>[1]) => {
      const socket = await backConnection(h.api, publicPort, endpoint);
      return requestOver(socket, opts);
    };
    try {
      assert.equal(
        (await over({ method: 'POST', path: '/other', body: '{}', contentType: 'application/json' })).status,
        404,
      );
      const invalid = await over({
        method: 'POST',
        path: '/jsonrpc',
        body: '{"jsonrpc":"2.0"}',
        contentType: 'application/json',
      });
      assert.equal(invalid.status, 400);
      assert.equal((JSON.parse(invalid.body) as { error: { code: number } }).error.code, -32600);
      const ok = await over({
        method: 'POST',
        path: '/jsonrpc',
        body: JSON.stringify({ jsonrpc: '2.0', method: 'add', params: { a: 1 }, id: 5 }),
        contentType: 'application/json',
      });
      assert.equal(ok.status, 200);
      assert.deepEqual(JSON.parse(ok.body), { jsonrpc: '2.0', result: 'done', id: 'n:5' });
      assert.deepEqual(seen, [{ jsonrpc: '2.0', method: 'add', params: { a: 1 }, id: 'n:5' }]);
    } finally {
      await h.stop();
      await publicPort.close();
      await stopHttp(upstream);
    }
  });

  it('pass-through: splices to the internal endpoint, which terminates TLS itself', async () => {
    const internal = createInternalServer(true, CERTS);
    const internalPort = await startHttp(internal);
    const publicPort = await listen();
    const endpoint = `127.0.0.1:${publicPort.port}`;
    const h = await startPrivateProxy({
      settings: { internal_endpoint: { address: `127.0.0.1:${internalPort}` } },
    });
    try {
      h.proxy.announcements.upsert({ domain: DOMAIN, owner: PUBLIC_NAME, expiresAt: null });
      const socket = await backConnection(h.api, publicPort, endpoint);
      const response = await requestOver(socket, {
        method: 'POST',
        body: '{"z":1}',
        contentType: 'application/json',
      });
      assert.deepEqual(JSON.parse(response.body), { z: 1 });
      assert.equal(h.proxy.stats().tunnels, 1);
      socket.destroy();
      await waitFor(() => h.proxy.stats().tunnels === 0 && h.proxy.stats().backConnections === 0, {
        timeoutMs: 5_000,
        what: 'no tunnels and no back connections',
      });
    } finally {
      await h.stop();
      await publicPort.close();
      await stopHttp(internal);
    }
  });
});
