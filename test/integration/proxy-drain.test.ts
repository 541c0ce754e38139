/**
 * A public proxy stopped with SIGTERM while P2P calls run through it (issue 11), real processes: two
 * proxy operators, hd-1 calling op-2 (reachable through both proxies) at low concurrency, and one call in
 * flight that op-2's backend holds. The stopping proxy tells op-2 through its own eps (drain notice); op-2
 * sends GOAWAY inside the tunnel, so new calls are brokered through the other proxy while the held call
 * goes on past PROXY_DRAIN_MS (the old cut) and succeeds; no call fails, nothing is cut, and the proxy
 * exits 0 once the tunnel is idle.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { PROXY_DRAIN_MS, PROXY_NOTICED_DRAIN_MS } from '../../src/proxy/shared/tunnels.js';
import { gatewayRequest, type TestNetwork } from '../helpers/network.js';
import {
  HD2_SERVICES,
  HEALTH_DEPARTMENTS,
  PROXY_OPERATOR as P1,
  SECOND_PROXY_OPERATOR as P2,
  twoProxyNetwork,
} from '../helpers/p2p-network.js';
import type { Running } from '../helpers/processes.js';
import { withDeadline } from '../helpers/wait.js';

let net: TestNetwork;
let proxyDirs: [string, string];
let backend: http.Server;
/** Answers of `slow` requests, held until the test releases them; who waits for the next arrival. */
const held: (() => void)[] = [];
const arrivals: (() => void)[] = [];

before(async () => {
  backend = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const msg = JSON.parse(body) as { method: string; id: unknown };
      const answer = (): void => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: `op-2 did ${msg.method}` }));
      };
      if (msg.method !== 'slow') return answer();
      held.push(answer);
      arrivals.shift()?.();
    });
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  ({ net, proxyDirs } = await twoProxyNetwork([
    {
      name: 'op-2',
      groups: ['operators'],
      grpcServer: { proxy: P1, proxies: [P2] },
      grpcClient: true,
      backend: `http://127.0.0.1:${(backend.address() as AddressInfo).port}/jsonrpc`,
      services: [
        ...HD2_SERVICES,
        { name: 'echo', permissions: HEALTH_DEPARTMENTS, methods: [{ name: 'a' }, { name: 'slow' }] },
      ],
    },
  ]));
});

after(async () => {
  for (const answer of held.splice(0)) answer();
  await net?.stop();
  backend?.close();
});

/** Proxies through which `p` established tunnels, in order (from its log). */
const tunnelsVia = (p: Running): string[] =>
  [...p.output().matchAll(/P2P tunnel established" peer=op-2 proxy=(\S+)/g)].map((m) => m[1]!);

test('SIGTERM of the proxy carrying the tunnel: 0 failed calls, the held call outlives the old cut', async (t) => {
  const operators = [await net.start(P1), await net.start(P2)];
  const proxy1 = await net.startProxy('public', proxyDirs[0]);
  await net.startProxy('public', proxyDirs[1]);
  const hd1 = await net.start('hd-1');
  const op3 = await net.start('op-2');
  await Promise.all(operators.map((o) => o.waitFor(/reverse stream registered" peer=op-2/)));
  const gateway = net.ports.get('hd-1')!.gateway;
  const call = (method: string, id: string) =>
    gatewayRequest(gateway, { jsonrpc: '2.0', method: `op-2.${method}`, params: {}, id });

  const warm = await call('a', 'warm');
  assert.equal(warm.status, 200, warm.text);
  assert.deepEqual(tunnelsVia(hd1), [P1], 'the first tunnel goes through the first proxy');

  const arrived = new Promise<void>((resolve) => arrivals.push(resolve));
  const slow = call('slow', 'slow');
  await withDeadline(arrived, { timeoutMs: 10_000, what: 'the held call to reach op-2' });

  // Low concurrency: two callers one call after another, until told to stop.
  const failures: string[] = [];
  let calls = 0;
  let running = true;
  const caller = async (n: number): Promise<void> => {
    for (let i = 0; running; i++) {
      const r = await call('a', `${n}-${i}`);
      calls++;
      if (r.status !== 200 || r.json.error !== undefined) failures.push(r.text);
    }
  };
  const load = [caller(1), caller(2)];

  const stopped = performance.now();
  const exit = once(proxy1.child, 'exit') as Promise<[number | null]>;
  proxy1.child.kill('SIGTERM');
  await proxy1.waitFor(/drain notice sent.*told="[^"]*op-2/);
  await op3.waitFor(/P2P tunnels told to go away: their proxy is stopping" proxy=public-proxy-1.ga/);
  await hd1.waitFor(/P2P tunnel established" peer=op-2 proxy=public-proxy-2.ga/);
  // Past the old cut (PROXY_DRAIN_MS after the stop), the told tunnel still carries the held call.
  await delay(Math.max(0, PROXY_DRAIN_MS + 250 - (performance.now() - stopped)));
  held.shift()!();
  const reply = await slow;
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.json.result, 'op-2 did slow');

  const [code] = await exit;
  const exitedMs = performance.now() - stopped;
  running = false;
  await Promise.all(load);
  t.diagnostic(`${calls} calls while the proxy drained; it exited ${Math.round(exitedMs)} ms after SIGTERM`);
  assert.deepEqual(failures, [], 'no call failed');
  assert.ok(calls > 0, 'calls ran during the drain');
  assert.equal(code, 0, proxy1.output());
  assert.ok(exitedMs < PROXY_NOTICED_DRAIN_MS, 'the proxy exited once the tunnel was idle, before its bound');
  assert.doesNotMatch(proxy1.output(), /tunnel cut at the end of the drain/);
  assert.equal(tunnelsVia(hd1).at(-1), P2, 'new calls went through the other proxy');
});
