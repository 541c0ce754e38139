/**
 * Directory transparency (issue 14, docs/transparency.md):
 * - the cost of exchanging tips on the remote (direct gRPC) and P2P (through the public proxy) call paths:
 *   every eps on the api directory of one real sd; hd-1 (tips on) calls, through its gateway at c=16 in
 *   alternating slices, a callee with tips on and its twin with `exchange_tips: false`;
 * - the time to heal 10,000 withheld records from a peer over real gRPC (TLS on loopback): pages fetched
 *   with `/EPS/Records`, verified by the api directory and appended to its state file.
 * Run alone: node --import tsx bench/transparency.ts [seconds]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChangeRecord } from '../src/core/directory-entry.js';
import { Deadline } from '../src/core/deadline.js';
import { ApiDirectory } from '../src/directory/api-directory.js';
import { signRecords } from '../src/records/index.js';
import { Alarms } from '../src/transparency/alarms.js';
import { PeerCheck } from '../src/transparency/peer-check.js';
import * as wire from '../src/transparency/wire.js';
import { grpcSession, ls1Server } from '../test/helpers/grpc-local.js';
import { CERTS, TestNetwork } from '../test/helpers/network.js';
import { proxyOperatorSpec, PROXY_OPERATOR as P, HEALTH_DEPARTMENTS } from '../test/helpers/p2p-network.js';
import { freePort } from '../test/helpers/processes.js';
import { apiSettings } from '../test/helpers/records-server.js';
import { createTestPki } from '../test/helpers/records-pki.js';
import { startSd, submit, useSd } from '../test/helpers/transparency-net.js';
import { gatewayCaller } from './gateway-client.js';
import { compareLoads, formatLoad, runLoad } from './load.js';

const HEAL_RECORDS = 10_000;
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
      await runLoad('warm-up', CONCURRENCY, 1, () => client.call(on));
      await runLoad('warm-up', CONCURRENCY, 1, () => client.call(off));
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

async function healTime(): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'eps-heal-'));
  const { root, intermediate, admin } = await createTestPki();
  const records: ChangeRecord[] = [
    {
      name: 'hd-1',
      section: 'certificates',
      data: [{ fingerprint: admin.fingerprint, key_usage: 'signing' }],
      created_at: '2021-05-17T10:00:00Z',
    },
    ...Array.from({ length: HEAL_RECORDS - 1 }, (_, i) => ({
      name: `op-${i % 40}`,
      section: 'groups',
      data: ['health-departments', `group-${i % 7}`],
      created_at: '2021-05-17T10:00:00Z',
    })),
  ];
  const chain = signRecords(records, '', admin.key, admin.pem);
  writeFileSync(join(dir, 'root.crt'), root.pem);
  writeFileSync(join(dir, 'intermediate.crt'), intermediate.pem);
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
  const directory = new ApiDirectory(
    apiSettings(['https://127.0.0.1:1/jsonrpc'], {
      ca_certificate_files: [join(dir, 'root.crt')],
      ca_intermediate_certificate_files: [join(dir, 'intermediate.crt')],
      state_file: join(dir, 'state.jsonl'),
    }),
  );
  let pages = 0;
  const check = new PeerCheck(
    directory,
    async (_peer, query) => {
      pages++;
      const reply = await session.unary(
        wire.RECORDS_PATH,
        wire.encodeRecordsRequest(query, 'hd-1'),
        Deadline.after(30_000),
      );
      return wire.decodeRecordsResponse(reply, query.limit);
    },
    new Alarms(),
  );
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
  return [...(await healTime()), ...(await tipExchangeCost(seconds))];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const line of await benchTransparency(Number(process.argv[2] ?? 10))) console.log(line);
}
