/**
 * Issue 10 finding 2, the proxy control API: its caller is named by `allowed_client_names`, not by the
 * directory, and passes the same certificate checks as every TLS peer (verifyAllowedClient,
 * tls/pinned-peer.ts). A CA-valid certificate of another operator gets HTTP 403 and exactly one log line
 * naming the certificate and the reason; the allowed one is served. Real TLS on 127.0.0.1.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { metricValue } from '../helpers/metric-value.js';
import { join } from 'node:path';
import { z } from 'zod';
import { createControlServer } from '../../src/proxy/shared/control-server.js';
import { method } from '../../src/jsonrpc/dispatcher.js';
import type { JsonHttpServer } from '../../src/jsonrpc/http-server.js';
import { CERTS, gatewayRequest, testCertificates } from '../helpers/network.js';
import { LogCapture } from '../helpers/peer-certs.js';

describe('proxy control API: the caller passes the peer checks', () => {
  let server: JsonHttpServer;
  let log: LogCapture;

  before(async () => {
    await testCertificates();
    server = createControlServer(
      {
        bind_address: '127.0.0.1:0',
        path: '/jsonrpc',
        max_body_bytes: 1 << 20,
        request_timeout: 5,
        handshake_timeout: 5,
        tls: {
          ca_certificate_files: [join(CERTS, 'root.crt')],
          certificate_file: join(CERTS, 'public-proxy-1.ga.crt'),
          key_file: join(CERTS, 'public-proxy-1.ga.key'),
        },
      },
      'public-proxy-1.ga',
      { echo: method(z.looseObject({}), () => 'ok') },
    );
    await server.listen();
    log = new LogCapture();
  });

  beforeEach(() => log.clear());

  after(async () => {
    log.stop();
    await server.close();
  });

  const call = (as: string) =>
    gatewayRequest(
      server.port,
      { jsonrpc: '2.0', method: 'echo', params: {}, id: 1 },
      { as, name: 'public-proxy-1.ga' },
    );

  test('a CA-valid certificate of another operator: 403, one log line with the reason code', async () => {
    const refusals = { path: 'proxy_control', reason: 'ERR_CERT_PEER_NAME_MISMATCH' };
    const counted = await metricValue('tls_peer_refusals_total', refusals);
    const reply = await call('hd-1');
    assert.equal(reply.status, 403);
    assert.equal(await metricValue('tls_peer_refusals_total', refusals), counted + 1);
    const lines = log.lines.filter((l) => l.level === 'warn' || l.level === 'info');
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0]?.component, 'pinning');
    assert.equal(lines[0]?.code, 'ERR_CERT_PEER_NAME_MISMATCH');
    assert.match(String(lines[0]?.peer), /hd-1/);
  });

  test('the allowed caller is served', async () => {
    const reply = await call('public-proxy-1.ga');
    assert.equal(reply.status, 200);
    assert.equal(reply.json.result, 'ok');
    assert.equal(log.refusals().length, 0);
  });
});
