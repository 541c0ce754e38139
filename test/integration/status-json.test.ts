/**
 * Issue 13, the status page's data: `/status.json` of real `eps server run` and `proxy run public`
 * processes after a P2P ping (hd-1 -> proxy -> hd-2), fields asserted; `/` serves the page with a strict
 * Content-Security-Policy, and a hostile operator name only ever travels as JSON data.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PROXY_OPERATOR as P } from '../helpers/p2p-network.js';
import { getPage, HOSTILE_NAME, statusNetwork, type StatusNetwork } from '../helpers/status-network.js';

let network: StatusNetwork;

interface Doc {
  program: string;
  name: string;
  version: string;
  generated_at: string;
  uptime_s: number;
  [section: string]: unknown;
}

async function status(port: number): Promise<Doc> {
  const page = await getPage(port, '/status.json');
  assert.equal(page.status, 200, page.text);
  assert.equal(page.type, 'application/json');
  return JSON.parse(page.text) as Doc;
}

type Obj = Record<string, unknown>;
const find = (list: unknown, key: string, value: string): Obj => {
  const found = (list as Obj[]).find((x) => x[key] === value);
  assert.ok(found, `no ${key}=${value} in ${JSON.stringify(list)}`);
  return found;
};

before(async () => {
  network = await statusNetwork();
});

after(async () => {
  await network?.net.stop();
});

test('eps hd-1: identity, directory with the permission matrix, hd-2 reached by P2P, calls and tunnels', async () => {
  const doc = await status(network.metrics['hd-1']);
  assert.equal(doc.program, 'eps');
  assert.equal(doc.name, 'hd-1');
  assert.ok(!Number.isNaN(Date.parse(doc.generated_at)));
  const identity = doc.identity as { name: string; certificates: Obj[] };
  assert.equal(identity.name, 'hd-1');
  assert.ok(identity.certificates.length >= 1);
  for (const c of identity.certificates) {
    assert.match(String(c.fingerprint), /^[0-9a-f]{64}$/);
    assert.equal(c.in_directory, true);
    assert.ok(Number(c.expires_in_days) > 0);
  }
  const directory = doc.directory as { type: string; operators: Obj[]; permissions: Obj[] };
  assert.equal(directory.type, 'json');
  const names = directory.operators.map((o) => o.name);
  for (const n of ['hd-1', 'hd-2', P, HOSTILE_NAME]) assert.ok(names.includes(n), `${n} in ${names.join()}`);
  const hd2 = find(directory.operators, 'name', 'hd-2');
  assert.deepEqual(hd2.groups, ['health-departments']);
  assert.ok((hd2.fingerprints as string[]).every((f) => /^[0-9a-f]{64}$/.test(f)));
  const grant = directory.permissions.find((p) => p.caller === 'hd-1' && p.callee === 'hd-2');
  assert.deepEqual(grant?.methods, ['_ping']);
  const toProxy = directory.permissions.find((p) => p.caller === P && p.callee === 'hd-2');
  assert.deepEqual(toProxy?.methods, ['_connectionRequest']);

  const peer = find(doc.peers, 'name', 'hd-2');
  assert.equal(peer.reachability, 'p2p');
  assert.equal(peer.via, `through ${P}`);
  assert.equal(peer.reachable, true);
  assert.equal(peer.session, 'open');
  assert.equal(peer.last_method, 'hd-2._ping');
  assert.equal(peer.last_outcome, 'ok');
  assert.ok(Number(peer.calls) >= 1);
  assert.equal(typeof peer.latency_ms, 'number');

  const tunnel = find(doc.tunnels, 'peer', 'hd-2');
  assert.equal(tunnel.direction, 'out');
  assert.equal(tunnel.proxy, P);
  const calls = doc.calls as { in_flight: number; minutes: { start: string; counts: Obj }[] };
  assert.equal(calls.minutes.length, 15);
  assert.ok(Number(calls.minutes.at(-1)!.counts['hd-2._ping ok']) >= 1, JSON.stringify(calls.minutes.at(-1)));
  const store = doc.async_store as {
    description: string;
    last_answer: string | null;
    age_s: number;
    error: null;
  };
  assert.match(store.description, /^file /);
  assert.ok(store.last_answer !== null && store.age_s >= 0, JSON.stringify(store));
  assert.equal(store.error, null);
  const latency = (doc.calls as { latency: { start: string; avg_ms: Record<string, number> }[] }).latency;
  assert.deepEqual(
    latency.map((m) => m.start),
    calls.minutes.map((m) => m.start),
  );
  assert.ok(
    latency.some((m) => typeof m.avg_ms['hd-2._ping'] === 'number' && m.avg_ms['hd-2._ping'] >= 0),
    JSON.stringify(latency.at(-1)),
  );
  assert.ok(Array.isArray(doc.errors));
  const streams = doc.streams as { dialled: Obj[]; accepted: Obj[] };
  assert.equal(find(streams.dialled, 'peer', P).state, 'up');
});

test('eps hd-2 and the proxy operator: the tunnel accepted and the ServerCall stream, seen from each side', async () => {
  const hd2 = await status(network.metrics['hd-2']);
  const tunnel = find(hd2.tunnels, 'direction', 'in');
  assert.equal(tunnel.proxy, P);
  const caller = find(hd2.peers, 'name', 'hd-1');
  assert.equal(caller.last_direction, 'in');
  assert.equal(caller.last_method, 'hd-2._ping');
  const operator = await status(network.metrics.operator);
  const accepted = (operator.streams as { accepted: Obj[] }).accepted;
  assert.ok(find(accepted, 'peer', 'hd-2').since);
  assert.equal(find(operator.peers, 'name', 'hd-2').servercall_in, true);
});

test('public proxy: announcements, tunnels, tokens and rate limits', async () => {
  const doc = await status(network.metrics.proxy);
  assert.equal(doc.program, 'proxy');
  assert.equal(doc.name, P);
  const proxy = doc.proxy as Obj;
  assert.equal(proxy.kind, 'public');
  const tunnels = doc.tunnels as Obj;
  assert.ok(Number(tunnels.live) >= 1, JSON.stringify(tunnels));
  const tokens = doc.tokens as Obj;
  assert.equal(typeof tokens.p2p, 'number');
  // Read from the metrics where they count them: a number exactly when /metrics has the counter.
  const metrics = (await getPage(network.metrics.proxy, '/metrics')).text;
  const counted = (name: string): string =>
    metrics.includes(`# TYPE ${name} counter`) ? 'number' : 'object';
  assert.equal(typeof tunnels.bytes_relayed, counted('proxy_relayed_bytes_total'));
  assert.equal(typeof (doc.rate_limits as Obj).hits, counted('rate_limit_hits_total'));
  assert.ok(Array.isArray(doc.announcements));
});

test('the page: HTML with a strict CSP; script and style same-origin; no data inlined', async () => {
  const page = await getPage(network.metrics['hd-1'], '/');
  assert.equal(page.status, 200);
  assert.equal(page.type, 'text/html; charset=utf-8');
  assert.match(page.csp, /default-src 'none'; script-src 'self'/);
  assert.ok(!page.text.includes('evil'), 'the page itself carries no directory data');
  const script = await getPage(network.metrics['hd-1'], '/status.js');
  assert.equal(script.type, 'text/javascript; charset=utf-8');
  assert.ok(!/innerHTML|insertAdjacentHTML|document\.write/.test(script.text), 'no HTML sinks in the script');
  assert.equal((await getPage(network.metrics['hd-1'], '/status.css')).status, 200);
  assert.equal((await getPage(network.metrics['hd-1'], '/metrics')).status, 200);
});
