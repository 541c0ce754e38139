/**
 * Graceful shutdown on SIGTERM with real processes: an eps node (op-1) stops accepting connections at once
 * (a new connection is refused), lets the gRPC call in flight from hd-1 finish, exits 0 well within its
 * bound, and starts again on the same ports (no EADDRINUSE), where hd-1 reaches it again. A public proxy
 * does the same: exits 0 at once when nothing is in flight, and restarts on its ports.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { JsonObject } from '../../src/core/json.js';
import { SHUTDOWN_DRAIN_MS } from '../../src/eps/server.js';
import { FORCED_EXIT_MS } from '../../src/cli/common.js';
import { PROXY_DRAIN_MS } from '../../src/proxy/shared/tunnels.js';
import { gatewayRequest, TestNetwork } from '../helpers/network.js';
import { freePort, type Running } from '../helpers/processes.js';

const everyone = [{ group: 'health-departments', rights: ['call'] }];
let network: TestNetwork;
let backend: http.Server;
/** Answers for `slow` requests, held until the test releases them. */
const held: (() => void)[] = [];
const arrivals: (() => void)[] = [];

const call = (method: string): JsonObject => ({ jsonrpc: '2.0', method, params: {}, id: '1' });

before(async () => {
  backend = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const msg = JSON.parse(body) as { method: string };
      const answer = (): void => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: `op-1 did ${msg.method}` }));
      };
      if (msg.method !== 'slow') return answer();
      held.push(answer);
      arrivals.shift()?.();
    });
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  network = new TestNetwork([
    { name: 'hd-1', groups: ['health-departments'], grpcClient: true },
    {
      name: 'op-1',
      groups: ['operators'],
      grpcServer: true,
      backend: `http://127.0.0.1:${(backend.address() as AddressInfo).port}/jsonrpc`,
      services: [{ name: 'echo', permissions: everyone, methods: [{ name: 'a' }, { name: 'slow' }] }],
      order: ['jsonrpc_client', 'grpc_server', 'jsonrpc_server'],
    },
  ]);
  await network.prepare();
});

after(async () => {
  for (const answer of held.splice(0)) answer();
  await network?.stop();
  backend?.close();
});

/** Resolves with the error code of a TCP connect to the port ('connected' if it was accepted). */
function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(5000, () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** Sends SIGTERM; resolves with the exit code and the time it took. */
async function terminate(p: Running): Promise<{ exit: Promise<{ code: number | null; ms: number }> }> {
  const started = performance.now();
  const exited = once(p.child, 'exit') as Promise<[number | null]>;
  p.child.kill('SIGTERM');
  return { exit: exited.then(([code]) => ({ code, ms: performance.now() - started })) };
}

test('eps on SIGTERM: listener closed at once, the call in flight finishes, exit 0, restart on the same port', async () => {
  const op1 = await network.start('op-1');
  await network.start('hd-1');
  const gateway = network.ports.get('hd-1')!.gateway;
  const grpcPort = network.ports.get('op-1')!.grpc;
  const warm = await gatewayRequest(gateway, call('op-1.a'));
  assert.equal(warm.status, 200, warm.text);

  const arrived = new Promise<void>((resolve) => arrivals.push(resolve));
  const inFlight = gatewayRequest(gateway, call('op-1.slow'));
  await arrived;
  const { exit } = await terminate(op1);
  await op1.waitFor(/stopped accepting connections/);
  assert.equal(await connectOutcome(grpcPort), 'ECONNREFUSED', 'new connections are refused');
  held.shift()!();
  const reply = await inFlight;
  assert.equal(reply.status, 200, `${reply.text}\n${op1.output()}`);
  assert.equal(reply.json.result, 'op-1 did slow', 'the call in flight finished');
  const { code, ms } = await exit;
  assert.equal(code, 0, op1.output());
  assert.ok(ms < SHUTDOWN_DRAIN_MS, `exited ${Math.round(ms)} ms after SIGTERM, once the call was done`);
  assert.doesNotMatch(op1.output(), /shutdown took too long/);

  const restarted = await network.start('op-1');
  const listening = performance.now();
  const again = await gatewayRequest(gateway, call('op-1.a'));
  assert.equal(again.status, 200, `${again.text}\n${restarted.output()}`);
  console.log(
    `# first call after the restart answered ${Math.round(performance.now() - listening)} ms after op-1 listened`,
  );
});

test('public proxy on SIGTERM: exit 0 within its bound, restart on the same ports', async () => {
  const ports = { tls: await freePort(), internal: await freePort(), control: await freePort() };
  const dir = network.writePublicProxy('hd-1', ports);
  const proxy = await network.startProxy('public', dir);
  const { exit } = await terminate(proxy);
  const { code, ms } = await exit;
  assert.equal(code, 0, proxy.output());
  assert.ok(ms < PROXY_DRAIN_MS + FORCED_EXIT_MS / 2, `exited after ${Math.round(ms)} ms`);
  const again = await network.startProxy('public', dir);
  assert.equal(await connectOutcome(ports.internal), 'connected', 'listening again on the same port');
  await again.stop();
});
