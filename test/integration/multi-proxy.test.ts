/**
 * Several public proxies per operator, with real processes and OS-chosen ports: hd-1 and hd-2 name
 * public-proxy-1.ga (`proxy`) and public-proxy-2.ga (`proxies`), keep reverse streams to both proxy
 * operators, and hd-1 reaches hd-2 while either proxy (or a whole proxy operator) is down, failing over
 * within the call's deadline.
 * op-2 has an original-shaped entry (only `proxy`); op-1's `proxies` is malformed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayRequest, type TestNetwork } from '../helpers/network.js';
import {
  HD2_SERVICES,
  PROXY_OPERATOR as P1,
  SECOND_PROXY_OPERATOR as P2,
  twoProxyNetwork,
} from '../helpers/p2p-network.js';
import type { Running } from '../helpers/processes.js';
import type { JsonObject } from '../../src/core/json.js';

const call = (method: string, id: string) => ({ jsonrpc: '2.0', method, params: {}, id });

/** Proxies through which `p` established tunnels, in order (from its log). */
function tunnelsVia(p: Running): string[] {
  return [...p.output().matchAll(/P2P tunnel established" peer=\S+ proxy=(\S+)/g)].map((m) => m[1]!);
}

describe('several public proxies per operator', () => {
  let net: TestNetwork;
  let hd1: Running;
  let proxyDirs: [string, string];
  const proxies = new Map<string, Running>();
  let operators: Running[] = [];
  let hdPort = 0;

  const ping = (to: string, id: string) => gatewayRequest(hdPort, call(`${to}._ping`, id));
  const served = (r: Awaited<ReturnType<typeof ping>>, by: string): void => {
    assert.equal(r.status, 200, r.text);
    assert.equal(((r.json.result as JsonObject).serverInfo as JsonObject).name, by);
  };

  before(async () => {
    ({ net, proxyDirs } = await twoProxyNetwork([
      // Original-shaped: only `proxy`, the second proxy operator.
      {
        name: 'op-2',
        groups: ['operators'],
        grpcServer: { proxy: P2 },
        grpcClient: true,
        services: HD2_SERVICES,
      },
      // Not started: a call to it ends at hd-1 with the reason.
      {
        name: 'op-1',
        groups: ['operators'],
        grpcServer: { proxy: P1, proxies: P2 },
        grpcClient: true,
        services: HD2_SERVICES,
      },
    ]));
    hd1 = await net.start('hd-1');
    await net.start('hd-2');
    await net.start('op-2');
    operators = [await net.start(P1), await net.start(P2)];
    // Only the second proxy runs at first; the first proxy operator's eps is up, its proxy is not.
    proxies.set(P2, await net.startProxy('public', proxyDirs[1]));
    hdPort = net.ports.get('hd-1')!.gateway;
    // hd-2 keeps a reverse stream to each proxy operator (both may send it connection requests).
    await Promise.all(operators.map((o) => o.waitFor(/reverse stream registered" peer=hd-2/)));
    await operators[1]!.waitFor(/reverse stream registered" peer=op-2/);
  });

  after(async () => {
    await net?.stop();
  });

  test('the first proxy down: brokering fails over to the second within the deadline', async (t) => {
    const started = Date.now();
    served(await ping('hd-2', '1'), 'hd-2');
    const ms = Date.now() - started;
    assert.match(
      hd1.output(),
      /brokering a tunnel failed; trying the next proxy" peer=hd-2 proxy=public-proxy-1.ga next=public-proxy-2.ga/,
    );
    assert.deepEqual(tunnelsVia(hd1), [P2]);
    assert.ok(ms < 5_000, `answered within hd-1's call_timeout (${ms} ms)`);
    t.diagnostic(`first call with failover: ${ms} ms`);
  });

  test('an original-shaped entry (only `proxy`) is reached through that proxy', async () => {
    served(await ping('op-2', '2'), 'op-2');
    assert.deepEqual(tunnelsVia(hd1), [P2, P2]);
  });

  test('the second proxy down, the first back: the next tunnel goes through the first', async (t) => {
    proxies.set(P1, await net.startProxy('public', proxyDirs[0]));
    // Killed: a SIGTERM holds the tunnel for the drain, 5 s (proxy-drain.test.ts); down is down here.
    await proxies.get(P2)!.stop('SIGKILL');
    // The tunnel through the second proxy broke with it; the next call brokers anew. The second proxy
    // (measured fast) is tried first and fails, then the first (penalised before, but alive) works.
    const started = Date.now();
    served(await ping('hd-2', '3'), 'hd-2');
    t.diagnostic(`call re-brokered with failover: ${Date.now() - started} ms`);
    assert.equal(tunnelsVia(hd1).at(-1), P1);
    assert.match(
      hd1.output(),
      /brokering a tunnel failed; trying the next proxy" peer=hd-2 proxy=public-proxy-2.ga next=public-proxy-1.ga/,
    );
    served(await ping('hd-2', '4'), 'hd-2');
  });

  test('the first proxy operator down entirely (its eps too): calls go through the second', async (t) => {
    proxies.set(P2, await net.startProxy('public', proxyDirs[1]));
    await operators[0]!.stop();
    await proxies.get(P1)!.stop();
    // The tunnel through the first proxy broke; hd-1 cannot even reach that proxy operator's node now.
    const started = Date.now();
    served(await ping('hd-2', '6'), 'hd-2');
    t.diagnostic(`call with the first proxy operator down: ${Date.now() - started} ms`);
    assert.equal(tunnelsVia(hd1).at(-1), P2);
  });

  test('a malformed `proxies` in the callee entry gets a clear error', async () => {
    const r = await ping('op-1', '5');
    assert.match(
      r.text,
      /the directory entry of op-1 is malformed: grpc_server\.settings\.proxies must be a list of operator names, not a string/,
    );
  });
});
