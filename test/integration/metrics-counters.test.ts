/**
 * Issue 13 alerting metrics seen changing on real sockets, in this process's registry: a connection over a
 * tcp rate limit, a full token table, a full opening-connection table, bytes relayed through a proxy tunnel,
 * the expiry of a loaded certificate, and /readyz exported as gauges on a real metrics listener.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyRateLimits } from '../../src/net/server-rate-limit.js';
import { TokenTable, TokenError } from '../../src/proxy/shared/tokens.js';
import { TunnelRegistry } from '../../src/proxy/shared/tunnels.js';
import { loadTls } from '../../src/tls/options.js';
import { MetricsServer } from '../../src/metrics/server.js';
import { Readiness } from '../../src/metrics/readiness.js';
import { CERTS, metricsText, testCertificates } from '../helpers/network.js';
import { connect, listen, type Listener } from '../helpers/net-pair.js';
import { freePort } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { metricValue } from '../helpers/metric-value.js';

const WAIT = { timeoutMs: 5_000 };

let listener: Listener;

before(async () => {
  await testCertificates();
  listener = await listen({ allowHalfOpen: true });
});

after(async () => {
  await listener.close();
});

/** Resolves once `socket` is closed by the other end (or errors). */
async function closedByPeer(socket: net.Socket): Promise<void> {
  socket.on('error', () => undefined);
  socket.resume();
  if (!socket.destroyed) await once(socket, 'close');
}

test('a connection over a tcp rate limit is closed and counted under its limit and listener', async () => {
  const server = net.createServer((s) => s.on('error', () => undefined));
  applyRateLimits(server, [{ type: 'minute', limit: 1 }], 'test-listener');
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const labels = { limit: 'tcp_connections', listener: 'test-listener' };
  const before = await metricValue('rate_limit_hits_total', labels);
  try {
    const first = await connect(port);
    const second = await connect(port);
    await closedByPeer(second);
    await waitFor(async () => (await metricValue('rate_limit_hits_total', labels)) === before + 1, {
      ...WAIT,
      what: 'the rate-limit hit to be counted',
    });
    first.destroy();
  } finally {
    server.close();
  }
});

test('a full token table refuses the next token and counts a proxy_tokens hit', async () => {
  const table = new TokenTable<string>({ maxEntries: 1 });
  const labels = { limit: 'proxy_tokens' };
  const before = await metricValue('rate_limit_hits_total', labels);
  try {
    table.issue('first');
    assert.throws(
      () => table.issue('second'),
      (e: unknown) => e instanceof TokenError && e.code === 'table-full',
    );
    assert.equal(await metricValue('rate_limit_hits_total', labels), before + 1);
  } finally {
    table.close();
  }
});

test('a full table of opening connections refuses the next and counts a proxy_pending_connections hit', async () => {
  const tunnels = new TunnelRegistry(1);
  const labels = { limit: 'proxy_pending_connections' };
  const before = await metricValue('rate_limit_hits_total', labels);
  const a = await connect(listener.port);
  const b = await connect(listener.port);
  assert.equal(tunnels.admit(a), true);
  assert.equal(tunnels.admit(b), false);
  assert.equal(await metricValue('rate_limit_hits_total', labels), before + 1);
  a.destroy();
});

test('bytes spliced through a tunnel count in proxy_relayed_bytes_total by kind and direction', async () => {
  const tunnels = new TunnelRegistry();
  const up = { kind: 'p2p', direction: 'up' };
  const down = { kind: 'p2p', direction: 'down' };
  const [up0, down0] = [
    await metricValue('proxy_relayed_bytes_total', up),
    await metricValue('proxy_relayed_bytes_total', down),
  ];
  // client <-> [a | proxy | b] <-> server: two real TCP pairs joined by the registry.
  const ends = await listen({ allowHalfOpen: true });
  const client = await connect(ends.port);
  const a = await ends.accept();
  const b = await connect(ends.port);
  const server = await ends.accept();
  const done = tunnels.splice(a, b, 'p2p', { initial: Buffer.alloc(10) });
  client.write(Buffer.alloc(1000));
  server.write(Buffer.alloc(300));
  await waitFor(
    async () =>
      (await metricValue('proxy_relayed_bytes_total', up)) === up0 + 1010 &&
      (await metricValue('proxy_relayed_bytes_total', down)) === down0 + 300,
    { ...WAIT, what: 'the relayed bytes to be counted' },
  );
  client.end();
  server.end();
  const result = await done;
  assert.deepEqual([result.aToB, result.bToA], [1010, 300]);
  await ends.close();
});

test('a loaded certificate exports its notAfter as tls_certificate_expiry_timestamp_seconds', async () => {
  const file = join(CERTS, 'hd-1.crt');
  loadTls({
    ca_certificate_files: [join(CERTS, 'root.crt')],
    certificate_file: file,
    key_file: join(CERTS, 'hd-1.key'),
  });
  const notAfter = Date.parse(new X509Certificate(readFileSync(file)).validTo) / 1000;
  assert.equal(await metricValue('tls_certificate_expiry_timestamp_seconds', { file }), notAfter);
});

test('/metrics exports /readyz: readiness_ready and readiness_check_ok follow the checks', async () => {
  let storeOk = false;
  const readiness = new Readiness();
  readiness.register('settings', () => ({ ok: true, detail: 'loaded' }));
  readiness.register('store', () => ({ ok: storeOk, detail: storeOk ? 'read' : 'cannot read' }));
  const port = await freePort();
  const server = new MetricsServer(`127.0.0.1:${port}`, { readiness });
  await server.start();
  try {
    const down = await metricsText(port);
    assert.match(down, /^readiness_ready 0$/m);
    assert.match(down, /^readiness_check_ok\{check="settings"\} 1$/m);
    assert.match(down, /^readiness_check_ok\{check="store"\} 0$/m);
    storeOk = true;
    const up = await metricsText(port);
    assert.match(up, /^readiness_ready 1$/m);
    assert.match(up, /^readiness_check_ok\{check="store"\} 1$/m);
  } finally {
    await server.stop();
  }
});
