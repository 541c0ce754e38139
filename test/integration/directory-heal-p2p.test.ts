/**
 * Healing a withheld directory over the P2P path (docs/transparency.md), real processes: the public proxy
 * and its operator's eps, hd-1 and hd-2 reachable only through the proxy. Two sds with file stores, the
 * short one on a copy of the long one's store before one more record: hd-1 reads the short sd, hd-2 and the
 * proxy operator's eps the long one. hd-1's first gRPC connection (its reverse stream to the proxy
 * operator's eps) already gives it the full chain with exactly one `withheld` alarm; a P2P call to hd-2
 * then finds the tips equal.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gatewayRequest, type TestNetwork } from '../helpers/network.js';
import { p2pNetwork, PROXY_OPERATOR as P } from '../helpers/p2p-network.js';
import type { Running } from '../helpers/processes.js';
import {
  NodeMetrics,
  prefixSds,
  servicesRecord,
  useSd,
  type SdProcess,
} from '../helpers/transparency-net.js';
import { waitFor } from '../helpers/wait.js';

const HEAL_TIMEOUT_MS = 20_000;

let net: TestNetwork;
let long: SdProcess;
let short: SdProcess;
let hd1: Running;
let metrics: NodeMetrics;

const records = (name: string): Promise<number> => metrics.records(name);

before(async () => {
  const network = await p2pNetwork();
  net = network.net;
  metrics = await NodeMetrics.of([P, 'hd-1', 'hd-2']);
  ({ long, short } = await prefixSds(net, servicesRecord(net, 'more.json', 'hd-1', ['_ping', 'b'])));
  for (const name of [P, 'hd-2']) useSd(net, name, long, {}, metrics.port(name));
  useSd(net, 'hd-1', short, {}, metrics.port('hd-1'));
  await net.start(P);
  await net.startProxy('public', network.proxyDir);
  await net.start('hd-2');
  hd1 = await net.start('hd-1');
});

after(async () => {
  await net?.stop();
  await Promise.all([long?.process.stop(), short?.process.stop()]);
});

test('a node on a withheld prefix heals from its first conversation on the P2P path', async () => {
  const full = await records('hd-2');
  assert.equal(await records(P), full);
  // hd-1's first connection is its reverse stream to the proxy operator's eps, which knows the long chain:
  // that conversation alone heals it, before any call.
  await waitFor(async () => (await records('hd-1')) === full, {
    timeoutMs: HEAL_TIMEOUT_MS,
    what: `hd-1 to hold ${full} records\n${hd1.output()}`,
  });
  const withheld = (): Promise<number> => metrics.alarms('hd-1', 'withheld');
  assert.equal(await withheld(), 1);
  assert.match(hd1.output(), new RegExp(`the service directory withheld records.*our_tip=${full - 1}/`));

  const reply = await gatewayRequest(net.ports.get('hd-1')!.gateway, {
    jsonrpc: '2.0',
    method: 'hd-2._ping',
    params: {},
    id: '1',
  });
  assert.equal(reply.status, 200, reply.text);
  assert.equal(await records('hd-1'), full);
  assert.equal(await withheld(), 1, 'hd-2 agrees with the healed chain: no second alarm');
});
