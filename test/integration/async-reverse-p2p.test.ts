/**
 * Asynchronous calls over the other two ways between operators, with real processes: hd-2 is reachable
 * only through the proxy operator public-proxy-1.ga. ls-1 (public gRPC server) reaches hd-2 over hd-2's
 * reverse stream (ServerCall) and hd-2 answers it directly; hd-2 calls ls-1 directly and ls-1's answer goes
 * back over the reverse stream; hd-1 (also behind the proxy) reaches hd-2 P2P and the answer comes back P2P.
 * A request queued for hd-2 while it is down leaves ls-1's outbox when hd-2's reverse stream opens; one
 * queued by hd-1 while the public proxy is down (no tunnel) is delivered P2P once the proxy is back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestNetwork } from '../helpers/network.js';
import {
  HD2_SERVICES,
  HEALTH_DEPARTMENTS,
  PROXY_OPERATOR as P,
  proxyOperatorSpec,
} from '../helpers/p2p-network.js';
import { freePort, type Running } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { asyncBackend, type AsyncBackend } from '../helpers/async-backend.js';
import { callAcknowledged, gateway, respond, respondsFor, rpc, STEP_MS } from '../helpers/async-flow.js';
import type { JsonObject } from '../../src/core/json.js';

const LOCATE = { name: 'locations', permissions: HEALTH_DEPARTMENTS, methods: [{ name: 'locate' }] };

describe('asynchronous calls over ServerCall and P2P', () => {
  let net: TestNetwork;
  let hd2: Running;
  let proxy: Running;
  let proxyDir = '';
  const stateDir = mkdtempSync(join(tmpdir(), 'eps-async-rs-'));
  const backends = new Map<string, AsyncBackend>();
  const port = (name: string): number => net.ports.get(name)!.gateway;

  before(async () => {
    for (const name of ['hd-1', 'hd-2', 'ls-1']) backends.set(name, await asyncBackend());
    const control = await freePort();
    const behindProxy = { grpcServer: { proxy: P }, grpcClient: true, groups: ['health-departments'] };
    net = new TestNetwork([
      proxyOperatorSpec(control),
      // Both take connection requests from the proxy operator, so each can be reached P2P.
      { name: 'hd-1', ...behindProxy, backend: backends.get('hd-1')!.url, services: HD2_SERVICES },
      {
        name: 'hd-2',
        ...behindProxy,
        backend: backends.get('hd-2')!.url,
        services: [...HD2_SERVICES, LOCATE],
      },
      {
        name: 'ls-1',
        groups: ['health-departments'],
        grpcServer: true,
        grpcClient: true,
        backend: backends.get('ls-1')!.url,
        services: [LOCATE],
        // Store and forward: retries at least a minute apart, so a delivery sooner after a peer came back
        // is the peer's reverse stream opening waking its queue (no timer).
        async: {
          store: { type: 'file', settings: { directory: stateDir } },
          outbox: { retry_initial: 120, retry_max: 300 },
        },
      },
    ]);
    await net.prepare();
    proxyDir = net.writePublicProxy(P, { tls: await freePort(), internal: await freePort(), control });
    let operator: Running, ls1: Running;
    [operator, ls1, , hd2] = await Promise.all([
      net.start(P),
      net.start('ls-1'),
      net.start('hd-1'),
      net.start('hd-2'),
    ]);
    proxy = await net.startProxy('public', proxyDir);
    await operator.waitFor(/reverse stream registered" peer=hd-2/);
    await operator.waitFor(/reverse stream registered" peer=hd-1/);
    await ls1.waitFor(/reverse stream registered" peer=hd-2/);
  });

  after(async () => {
    await net?.stop();
    for (const b of backends.values()) await b.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  test('ServerCall: ls-1 reaches hd-2 over the reverse stream; the answer arrives once', async () => {
    await callAcknowledged(port('ls-1'), 'ls-1', 'hd-2.locate', 'rs-1');
    const answered = await respond(port('hd-2'), 'hd-2', 'hd-2.locate(rs-1)', { result: { at: 'ward 3' } });
    assert.equal(answered.status, 200, answered.text);
    const got = await respondsFor(backends.get('ls-1')!, 'rs-1');
    assert.equal(got.length, 1);
    assert.deepEqual((got[0]!.params as JsonObject).result, { at: 'ward 3' });
  });

  test("ServerCall: ls-1's answer to hd-2 travels over hd-2's reverse stream", async () => {
    await callAcknowledged(port('hd-2'), 'hd-2', 'ls-1.locate', 'rs-2');
    const answered = await respond(port('ls-1'), 'ls-1', 'ls-1.locate(rs-2)', { result: 7 });
    assert.equal(answered.status, 200, answered.text);
    const [got] = await respondsFor(backends.get('hd-2')!, 'rs-2');
    assert.equal((got!.params as JsonObject).result, 7);
    assert.equal(((got!.params as JsonObject)._client as JsonObject).name, 'ls-1');
  });

  test('P2P: hd-1 reaches hd-2 through the public proxy; the answer comes back P2P', async () => {
    await callAcknowledged(port('hd-1'), 'hd-1', 'hd-2.locate', 42);
    const answered = await respond(port('hd-2'), 'hd-2', 'hd-2.locate(n:42)', { result: 'found' });
    assert.equal(answered.status, 200, answered.text);
    const [got] = await respondsFor(backends.get('hd-1')!, 42);
    assert.equal((got!.params as JsonObject).result, 'found');
  });

  test('P2P, store and forward: the public proxy is down when hd-1 sends; delivered once it is back', async () => {
    // Killed: a SIGTERM lets the proxy drain the tunnel of the test before for seconds, and which way
    // the proxy went down is not what this test is about.
    await proxy.stop('SIGKILL');
    const queued = await gateway(
      port('hd-1'),
      'hd-1',
      rpc('hd-2.locate', { person: 'p-8', _async: { ttl: 120 } }, 'p2p-down'),
    );
    assert.equal(((queued.json.result as JsonObject)?._async as JsonObject)?.queued, true, queued.text);
    proxy = await net.startProxy('public', proxyDir);
    const atHd2 = (): JsonObject[] =>
      backends
        .get('hd-2')!
        .calls('locate')
        .filter((m) => m.id === 'hd-2.locate(p2p-down)');
    // hd-1's outbox retries (1 s doubling) find the tunnel brokered again through the restarted proxy.
    await waitFor(() => atHd2().length > 0, { timeoutMs: 2 * STEP_MS, what: 'the queued request at hd-2' });
    const answered = await respond(port('hd-2'), 'hd-2', 'hd-2.locate(p2p-down)', { result: 'via proxy' });
    assert.equal(answered.status, 200, answered.text);
    const got = await respondsFor(backends.get('hd-1')!, 'p2p-down');
    assert.equal(got.length, 1);
    assert.equal((got[0]!.params as JsonObject).result, 'via proxy');
    assert.equal(atHd2().length, 1, 'delivered once');
  });

  test('ServerCall, store and forward: hd-2 is down when ls-1 sends; its reverse stream opening delivers it', async () => {
    await hd2.stop();
    const queued = await gateway(
      port('ls-1'),
      'ls-1',
      rpc('hd-2.locate', { person: 'p-9', _async: { ttl: 120 } }, 'rs-down'),
    );
    assert.equal(((queued.json.result as JsonObject)?._async as JsonObject)?.queued, true, queued.text);
    hd2 = await net.start('hd-2');
    await waitFor(
      () =>
        backends
          .get('hd-2')!
          .calls('locate')
          .some((m) => m.id === 'hd-2.locate(rs-down)'),
      // Well within the first retry (60 to 120 s after the failed attempt): only the wake-up can deliver it.
      { timeoutMs: 2 * STEP_MS, what: 'the queued request at hd-2' },
    );
    const answered = await respond(port('hd-2'), 'hd-2', 'hd-2.locate(rs-down)', { result: 'late' });
    assert.equal(answered.status, 200, answered.text);
    const got = await respondsFor(backends.get('ls-1')!, 'rs-down');
    assert.equal(got.length, 1);
    assert.equal(
      backends
        .get('hd-2')!
        .calls('locate')
        .filter((m) => m.id === 'hd-2.locate(rs-down)').length,
      1,
    );
  });
});
