/**
 * Directory transparency (issue 14, docs/transparency.md):
 * - the cost of exchanging tips on the remote (direct gRPC) and P2P (through the public proxy) call paths:
 *   every eps on the api directory of one real sd; hd-1 (tips on) calls, through its gateway at c=16 in
 *   alternating slices, a callee with tips on and its twin with `exchange_tips: false`;
 * - the time to heal 10,000 withheld records from a peer over real gRPC (TLS on loopback): pages fetched
 *   with `/EPS/Records`, verified by the api directory and appended to its state file;
 * - the CPU of a fork check at 10,000 records (in process: our chain of 10,000, a peer's of 10,010 that
 *   forks after 9,990): consistency proof, binary search, the peer's branch verified after our common
 *   prefix; beside it, in the same run, the full re-verification of prefix + branch the check did before.
 * Run alone: node --import tsx bench/transparency.ts [seconds]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChangeRecord, SignedChangeRecord } from '../src/core/directory-entry.js';
import { Deadline } from '../src/core/deadline.js';
import { ApiDirectory, loadRecordTrust } from '../src/directory/api-directory.js';
import { VerifiedMirror } from '../src/directory/verified-mirror.js';
import { RecordTree, signRecords } from '../src/records/index.js';
import { Alarms } from '../src/transparency/alarms.js';
import { PeerCheck, type PeerSource } from '../src/transparency/peer-check.js';
import * as wire from '../src/transparency/wire.js';
import { grpcSession, ls1Server } from '../test/helpers/grpc-local.js';
import { CERTS, TestNetwork } from '../test/helpers/network.js';
import { proxyOperatorSpec, PROXY_OPERATOR as P, HEALTH_DEPARTMENTS } from '../test/helpers/p2p-network.js';
import { freePort } from '../test/helpers/processes.js';
import { apiSettings } from '../test/helpers/records-server.js';
import { createTestPki } from '../test/helpers/records-pki.js';
import { startSd, submit, useSd } from '../test/helpers/transparency-net.js';
import { gatewayCaller } from './gateway-client.js';
import { compareLoads, formatLoad, warmUp } from './load.js';

const HEAL_RECORDS = 10_000;
/** The fork check: our chain's length, where the peer's branch leaves it, the peer's length. */
const FORK = { ours: 10_000, at: 9_990, theirs: 10_010 };
const CONCURRENCY = 16;
const ping = [{ name: 'internals', permissions: HEALTH_DEPARTMENTS, methods: [{ name: '_ping' }] }];
const connectionRequests = {
  name: 'cr',
  permissions: [{ group: 'proxy-providers', rights: ['call'] }],
  methods: [{ name: '_connectionRequest' }],
};
/** Callees with tips on (ls-1 direct, hd-2 via the proxy) and their twins with tips off (op-1, op-2). */
const PAIRS = [
  { path: 'remote', on: 'ls-1', off: 'op-1' },
  { path: 'P2P', on: 'hd-2', off: 'op-2' },
] as const;

/**
 * One run, one hd-1 with tips on, calling a callee with tips and its twin without (which answers `/EPS/Tip`
 * UNIMPLEMENTED like an original node), in alternating slices: the only difference is the exchange of tips.
 */
async function tipExchangeCost(seconds: number): Promise<string[]> {
  const control = await freePort();
  const hd = (name: string, proxied: boolean, extra = {}) => ({
    name,
    groups: ['health-departments'],
    grpcServer: proxied ? { proxy: P } : true,
    grpcClient: true,
    services: proxied ? [connectionRequests, ...ping] : ping,
    ...extra,
  });
  const net = new TestNetwork([
    proxyOperatorSpec(control),
    hd('hd-1', true),
    hd('hd-2', true),
    hd('op-2', true),
    hd('ls-1', false),
    hd('op-1', false),
  ]);
  await net.prepare();
  const proxyDir = net.writePublicProxy(P, { tls: await freePort(), internal: await freePort(), control });
  const sd = await startSd(net, 'sd');
  const lines: string[] = [];
  try {
    await submit(net, sd, [
      '--reset',
      join(net.dir, 'directory/001_base.json'),
      join(net.dir, 'directory/002_certificates.json'),
    ]);
    for (const name of [P, 'hd-1', 'hd-2', 'ls-1']) useSd(net, name, sd, { exchange_tips: true });
    for (const name of ['op-1', 'op-2']) useSd(net, name, sd, { exchange_tips: false });
    for (const name of [P, 'hd-2', 'op-2', 'ls-1', 'op-1', 'hd-1']) {
      await net.start(name).catch((e: Error) => {
        throw new Error(`${name} did not start: ${e.message}`);
      });
    }
    await net.startProxy('public', proxyDir);
    const client = gatewayCaller(CERTS, 'hd-1', net.ports.get('hd-1')!.gateway, CONCURRENCY);
    for (const pair of PAIRS) {
      const on = `${pair.on}._ping`;
      const off = `${pair.off}._ping`;
      await warmUp(CONCURRENCY, () => client.call(on));
      await warmUp(CONCURRENCY, () => client.call(off));
      const [a, b] = await compareLoads(
        CONCURRENCY,
        seconds,
        { label: `${pair.path} ${on} (tips)`, once: () => client.call(on) },
        { label: `${pair.path} ${off} (no tips)`, once: () => client.call(off) },
      );
      lines.push(formatLoad(a), formatLoad(b));
      lines.push(`  ${pair.path}: with/without tips throughput ratio ${(a.rps / b.rps).toFixed(3)}`);
    }
    client.close();
  } finally {
    await sd.process.stop();
    await net.stop();
  }
  return lines;
}

/** A signed chain of `size` records (the first pins the admin), its PKI written to `dir`, and directories. */
async function benchChain(dir: string, size: number) {
  const { root, intermediate, admin } = await createTestPki();
  const records: ChangeRecord[] = [
    {
      name: 'hd-1',
      section: 'certificates',
      data: [{ fingerprint: admin.fingerprint, key_usage: 'signing' }],
      created_at: '2021-05-17T10:00:00Z',
    },
    ...groupChanges(size - 1, 'group'),
  ];
  writeFileSync(join(dir, 'root.crt'), root.pem);
  writeFileSync(join(dir, 'intermediate.crt'), intermediate.pem);
  const settings = (extra = {}) =>
    apiSettings(['https://127.0.0.1:1/jsonrpc'], {
      ca_certificate_files: [join(dir, 'root.crt')],
      ca_intermediate_certificate_files: [join(dir, 'intermediate.crt')],
      ...extra,
    });
  return {
    chain: signRecords(records, '', admin.key, admin.pem),
    sign: (changes: ChangeRecord[], parent: string) => signRecords(changes, parent, admin.key, admin.pem),
    settings,
  };
}

function groupChanges(count: number, tag: string): ChangeRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `op-${i % 40}`,
    section: 'groups',
    data: ['health-departments', `${tag}-${i % 7}`],
    created_at: '2021-05-17T10:00:00Z',
  }));
}

/** A peer in process: pages and consistency proofs over `records`. */
function memoryPeer(records: readonly SignedChangeRecord[]): PeerSource {
  const tree = RecordTree.of(records);
  return {
    page: async (_peer, q) => ({ tip: tree.tip(), records: records.slice(q.from, q.from + q.limit) }),
    consistency: async (_peer, q) => tree.consistencyProof(q.first, q.second),
  };
}

/** CPU (user + system, all threads) and wall time of `run`, in ms. */
async function measure<T>(run: () => Promise<T>): Promise<{ value: T; cpuMs: number; wallMs: number }> {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const value = await run();
  const used = process.cpuUsage(cpu);
  return {
    value,
    cpuMs: (used.user + used.system) / 1000,
    wallMs: Number(process.hrtime.bigint() - start) / 1e6,
  };
}

export async function forkCheckCost(): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'eps-fork-'));
  const { chain, sign, settings } = await benchChain(dir, FORK.ours);
  const branch = sign(groupChanges(FORK.theirs - FORK.at, 'fork'), chain[FORK.at - 1]!.hash);
  const theirs = [...chain.slice(0, FORK.at), ...branch];
  const directory = new ApiDirectory(settings());
  try {
    await directory.extendFromPeer(chain, 'bench');
    const check = new PeerCheck(directory, memoryPeer(theirs), new Alarms());
    const theirTip = RecordTree.of(theirs).tip();
    const now = await measure(() => check.run('ls-1', theirTip));
    if (now.value !== 'fork') throw new Error(`fork check gave ${now.value}`);
    // What the check did before: prefix and branch verified from scratch by a fresh mirror.
    const trust = loadRecordTrust(settings());
    const before = await measure(() => new VerifiedMirror(trust).ingestRecords(theirs));
    const f = (m: { cpuMs: number; wallMs: number }): string =>
      `${m.cpuMs.toFixed(0)} ms CPU (${m.wallMs.toFixed(0)} ms wall)`;
    return [
      `fork check at ${FORK.ours.toLocaleString('en')} records (peer ${FORK.theirs.toLocaleString('en')}, ` +
        `forked after ${FORK.at.toLocaleString('en')}): ${f(now)}; ` +
        `the former full re-verification of prefix + branch alone: ${f(before)}`,
    ];
  } finally {
    await directory.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function healTime(): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'eps-heal-'));
  const { chain, settings } = await benchChain(dir, HEAL_RECORDS);
  const server = ls1Server({
    handlers: {
      unary: {
        [wire.RECORDS_PATH]: async (payload) => {
          const { query } = wire.decodeRecordsRequest(payload);
          const page = chain.slice(query.from, query.from + query.limit);
          return wire.encodeRecordsResponse({ size: chain.length, head: chain.at(-1)!.hash }, page);
        },
      },
      bidi: {},
    },
  });
  const { port } = await server.listen('127.0.0.1:0');
  const session = await grpcSession(port);
  const directory = new ApiDirectory(settings({ state_file: join(dir, 'state.jsonl') }));
  let pages = 0;
  const source: PeerSource = {
    page: async (_peer, query) => {
      pages++;
      const reply = await session.unary(
        wire.RECORDS_PATH,
        wire.encodeRecordsRequest(query, 'hd-1'),
        Deadline.after(30_000),
      );
      return wire.decodeRecordsResponse(reply, query.limit);
    },
    consistency: async () => {
      throw new Error('the heal bench sends a tip without a root: no proof is asked');
    },
  };
  const check = new PeerCheck(directory, source, new Alarms());
  try {
    const start = process.hrtime.bigint();
    const verdict = await check.run('ls-1', { size: chain.length, head: chain.at(-1)!.hash });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (verdict !== 'healed' || directory.chain().length !== HEAL_RECORDS)
      throw new Error(`heal failed: ${verdict}`);
    return [
      `heal ${HEAL_RECORDS.toLocaleString('en')} withheld records from a peer: ${ms.toFixed(0)} ms ` +
        `(${Math.round((HEAL_RECORDS / ms) * 1000).toLocaleString('en')} records/s; ${pages} pages over gRPC/TLS, ` +
        `verified, applied and appended to the state file)`,
    ];
  } finally {
    session.close();
    await server.close();
    await directory.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchTransparency(seconds = 10): Promise<string[]> {
  return [...(await forkCheckCost()), ...(await healTime()), ...(await tipExchangeCost(seconds))];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const line of await benchTransparency(Number(process.argv[2] ?? 10))) console.log(line);
}
