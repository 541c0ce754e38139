/**
 * Directory transparency with real processes (docs/transparency.md): two sds with file stores, the second
 * started on a copy of the first's store, so that it holds a prefix of the first's chain once more records
 * go to the first. hd-1 reads the short sd, hd-2 the long one.
 *
 * - One call from hd-1 to hd-2 heals hd-1 (same eps_directory_records as hd-2, one `withheld` alarm), and
 *   hd-1 keeps the records across a restart while its sd still serves the short chain.
 * - Then the short sd gets a different record (a fork of the long chain after the common prefix); hd-1,
 *   restarted without its state file, takes that branch: both nodes raise `fork`, neither adopts the other's
 *   branch, and calls that both views allow keep working in both directions.
 * - `eps sd audit` over the sds and both nodes (their proof methods through hd-1's gateway, `URL#OPERATOR`):
 *   consistent after the heal, INCONSISTENT (exit 1) across the fork.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { JsonObject } from '../../src/core/json.js';
import { gatewayRequest, TestNetwork } from '../helpers/network.js';
import { runProgram, type Running } from '../helpers/processes.js';
import {
  NodeMetrics,
  prefixSds,
  servicesRecord,
  submit,
  toolEnv,
  useSd,
  type SdProcess,
} from '../helpers/transparency-net.js';
import { waitFor } from '../helpers/wait.js';

const HEAL_TIMEOUT_MS = 20_000;
/** What the nodes offer everyone: `_ping`, and the proof methods an auditor asks through another gateway. */
const METHODS = ['_ping', '_treeTip', '_consistencyProof'];
const ping = {
  name: 'svc',
  permissions: [{ group: '*', rights: ['call'] }],
  methods: METHODS.map((name) => ({ name })),
};

let net: TestNetwork;
let long: SdProcess;
let short: SdProcess;
let metrics: NodeMetrics;
let hd1: Running;
let hd2: Running;
let hd1State = '';

const call = (method: string): JsonObject => ({ jsonrpc: '2.0', method, params: {}, id: '1' });

async function pingFrom(from: string, to: string): Promise<void> {
  const reply = await gatewayRequest(net.ports.get(from)!.gateway, call(`${to}._ping`), {
    as: from,
    name: from,
  }).catch((e: Error) => {
    throw new Error(`${from} → ${to}: ${e.message}\nhd-1:\n${hd1.output()}\nhd-2:\n${hd2.output()}`);
  });
  assert.equal(reply.status, 200, `${from} → ${to}: ${reply.text}`);
}

/** Runs `eps sd audit` as hd-1 over `parties`: sds by URL, nodes as `hd-1's gateway#OPERATOR`. */
async function audit(...parties: (SdProcess | string)[]): Promise<{ code: number | null; out: string }> {
  const gateway = `https://127.0.0.1:${net.ports.get('hd-1')!.gateway}/jsonrpc`;
  const urls = parties.map((p) => (typeof p === 'string' ? `${gateway}#${p}` : p.url));
  const r = await runProgram('eps', ['sd', 'audit', ...urls], toolEnv(net, long));
  return { code: r.code, out: r.stdout + r.stderr };
}

const records = (name: string): Promise<number> => metrics.records(name);
const alarms = (name: string, kind: 'withheld' | 'fork' | 'unverifiable'): Promise<number> =>
  metrics.alarms(name, kind);

before(async () => {
  metrics = await NodeMetrics.of(['hd-1', 'hd-2']);
  net = new TestNetwork(
    ['hd-1', 'hd-2'].map((name) => ({
      name,
      groups: ['health-departments'],
      grpcClient: true,
      grpcServer: true,
      services: [ping],
      metricsPort: metrics.port(name),
    })),
  );
  await net.prepare();
  ({ long, short } = await prefixSds(net, servicesRecord(net, 'more.json', 'hd-2', [...METHODS, 'b'])));
  hd1State = useSd(net, 'hd-1', short);
  useSd(net, 'hd-2', long);
  hd2 = await net.start('hd-2');
  hd1 = await net.start('hd-1');
});

after(async () => {
  await net?.stop();
  await Promise.all([long?.process.stop(), short?.process.stop()]);
});

test('one call from a node on a withheld prefix heals it from the peer, and the records survive a restart', async () => {
  const full = await records('hd-2');
  const before = await records('hd-1');
  assert.ok(before > 0 && before < full, `hd-1 starts on the short chain (${before} of ${full})`);

  await pingFrom('hd-1', 'hd-2');
  await waitFor(async () => (await records('hd-1')) === full, {
    timeoutMs: HEAL_TIMEOUT_MS,
    what: `hd-1 to hold ${full} records\n${hd1.output()}`,
  });
  assert.equal(await alarms('hd-1', 'withheld'), 1);
  assert.equal(await alarms('hd-2', 'withheld'), 0);
  assert.match(hd1.output(), /the service directory withheld records.*peer=hd-2 /);
  // The status page's data names the alarm with both tips.
  const status = (await (await fetch(`http://127.0.0.1:${metrics.port('hd-1')}/status.json`)).json()) as {
    directory_alarms: { kind: string; peer: string; ours: string; theirs: string }[];
  };
  assert.deepEqual(
    status.directory_alarms.map((a) => [a.kind, a.peer]),
    [['withheld', 'hd-2']],
  );
  assert.match(status.directory_alarms[0]!.theirs, new RegExp(`^${full} records, head [0-9a-f]{16}$`));
  await hd1.stop();
  hd1 = await net.start('hd-1');
  assert.match(hd1.output(), /directory state loaded and verified/);
  assert.equal(await records('hd-1'), full, 'the healed records are kept across a restart');
  await pingFrom('hd-1', 'hd-2');
  assert.equal(await alarms('hd-1', 'fork'), 0);

  // An auditor compares the sds and both nodes: the short sd is a prefix of everyone, the rest agree.
  const report = await audit(long, short, 'hd-1', 'hd-2');
  assert.equal(report.code, 0, report.out);
  assert.match(report.out, new RegExp(`#hd-2 +${full} +[0-9a-f]{16} +[0-9a-f]{16}`));
  assert.equal(report.out.match(/^consistent /gm)?.length, 6, report.out);
});

test('a fork after the common prefix: both sides raise `fork`, neither adopts, calls keep working', async () => {
  await submit(net, short, [servicesRecord(net, 'other.json', 'hd-2', [...METHODS, 'c'])]);
  await hd1.stop();
  rmSync(hd1State, { force: true });
  hd1 = await net.start('hd-1');
  const hd1Records = await records('hd-1');
  const hd2Records = await records('hd-2');
  assert.equal(hd1Records, hd2Records, 'both branches have the same length');

  await pingFrom('hd-1', 'hd-2');
  await waitFor(async () => (await alarms('hd-1', 'fork')) === 1 && (await alarms('hd-2', 'fork')) === 1, {
    timeoutMs: HEAL_TIMEOUT_MS,
    what: `fork alarms on both sides\nhd-1:\n${hd1.output()}\nhd-2:\n${hd2.output()}`,
  });
  assert.match(hd1.output(), /a peer holds a forked directory.*peer=hd-2 /);
  assert.match(hd2.output(), /a peer holds a forked directory.*peer=hd-1 /);
  assert.equal(await alarms('hd-1', 'withheld'), 0, 'nothing taken from the other branch');
  assert.equal(await records('hd-1'), hd1Records);
  assert.equal(await records('hd-2'), hd2Records);
  assert.equal(await alarms('hd-1', 'unverifiable'), 0);
  await pingFrom('hd-1', 'hd-2');
  await pingFrom('hd-2', 'hd-1');

  const report = await audit('hd-1', 'hd-2');
  assert.equal(report.code, 1, report.out);
  assert.match(report.out, new RegExp(`#hd-1 +${hd1Records} +[0-9a-f]{16} +[0-9a-f]{16}`), report.out);
  assert.match(report.out, /INCONSISTENT .*#hd-1 <= .*#hd-2: two different heads for size/);
});
