/**
 * Peers that advertise a directory tip they cannot back (docs/transparency.md): a real eps (hd-1, api
 * directory of a real sd) calls three fake peers, gRPC servers of this test with the pinned certificates of
 * op-1, op-2 and ls-1:
 *
 * - op-1 advertises a tip ahead of ours and serves no records;
 * - op-2 serves the next record with a bad signature (validly hashed and chained, signature altered);
 * - ls-1 serves a page of more than 4 MiB (far more records than asked for), ten times with new tips.
 *
 * Each is refused with a log line and one `unverifiable` alarm (one per peer and interval), nothing is
 * applied (eps_directory_records unchanged), calls to the peers still work, and hd-1's heap stays flat.
 * hd-1 also answers `/EPS/Consistency` (what a peer behind it asks before healing): a proof that verifies
 * against the tree of its chain, and INVALID_ARGUMENT for a size it does not have.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { SignedChangeRecord } from '../../src/core/directory-entry.js';
import type { JsonObject } from '../../src/core/json.js';
import { decodeRequest, encodeResponse } from '../../src/grpc/codec.js';
import { GrpcServer } from '../../src/grpc/server.js';
import { Deadline } from '../../src/core/deadline.js';
import { GrpcError, Status } from '../../src/grpc/status.js';
import { checkConsistencyProof, RecordTree } from '../../src/records/index.js';
import { loadTls } from '../../src/tls/options.js';
import type { Tip } from '../../src/transparency/tip.js';
import {
  CONSISTENCY_PATH,
  decodeConsistencyResponse,
  encodeConsistencyRequest,
  encodeRecordsResponse,
  encodeTipResponse,
} from '../../src/transparency/wire.js';
import { grpcSession } from '../helpers/grpc-local.js';
import { CERTS, gatewayRequest, pinnedEntries, TestNetwork } from '../helpers/network.js';
import { freePort, type Running } from '../helpers/processes.js';
import { signWith } from '../helpers/records-server.js';
import { metric, startSd, submit, useSd, type SdProcess } from '../helpers/transparency-net.js';
import { waitFor } from '../helpers/wait.js';

const ALARM_TIMEOUT_MS = 20_000;
const HUGE_ROUNDS = 10;
/** hd-1 runs with debug logs: one line per check of a peer's tip. */
const HUGE_REFUSED = /msg="directory tip checked" peer=ls-1 .*verdict=unverifiable/g;
const fakes = ['op-1', 'op-2', 'ls-1'];
const ping = { name: 'svc', permissions: [{ group: '*', rights: ['call'] }], methods: [{ name: 'x' }] };

let net: TestNetwork;
let sd: SdProcess;
let hd1: Running;
let metricsPort = 0;
let stateFile = '';
const servers = new Map<string, GrpcServer>();

type Serve = (from: number, limit: number) => Uint8Array;

/** A gRPC server posing as `name`: answers calls, advertises `tip`, answers record queries with `serve`. */
async function fakePeer(name: string, tip: Tip, serve: Serve): Promise<void> {
  await servers.get(name)?.close();
  const entries = pinnedEntries();
  const server = new GrpcServer({
    tls: loadTls({
      ca_certificate_files: [join(CERTS, 'root.crt')],
      certificate_file: join(CERTS, `${name}.crt`),
      key_file: join(CERTS, `${name}.key`),
    }),
    verifyClient: true,
    lookup: (n) => entries.get(n),
    handlers: {
      unary: {
        '/EPS/Call': async (payload) =>
          encodeResponse({ id: decodeRequest(payload).id, result: { _: `${name} answered` } }),
        '/EPS/Tip': async () => encodeTipResponse(tip),
        '/EPS/Records': async (payload) => {
          const { from, limit } = decodeRequest(payload).params as { from: number; limit: number };
          return serve(from, limit);
        },
      },
      bidi: {},
    },
  });
  await server.listen(`127.0.0.1:${net.ports.get(name)!.grpc}`);
  servers.set(name, server);
}

function ourChain(): SignedChangeRecord[] {
  const lines = readFileSync(stateFile, 'utf8').split('\n').filter(Boolean);
  return lines.map((l) => JSON.parse(l) as SignedChangeRecord);
}

async function callPeer(name: string): Promise<void> {
  const reply = await gatewayRequest(net.ports.get('hd-1')!.gateway, {
    jsonrpc: '2.0',
    method: `${name}.x`,
    params: {},
    id: '1',
  } satisfies JsonObject);
  assert.equal(reply.status, 200, `hd-1 → ${name}: ${reply.text}`);
}

const unverifiable = (): Promise<number> =>
  metric(metricsPort, 'eps_directory_alarms_total', '{kind="unverifiable"}');

async function expectAlarms(count: number, peer: string): Promise<void> {
  await waitFor(async () => (await unverifiable()) === count, {
    timeoutMs: ALARM_TIMEOUT_MS,
    what: `${count} unverifiable alarms\n${hd1.output()}`,
  });
  assert.match(hd1.output(), new RegExp(`a peer advertised a tip it cannot back.*peer=${peer} `));
}

before(async () => {
  metricsPort = await freePort();
  net = new TestNetwork([
    { name: 'hd-1', groups: ['hd'], grpcClient: true, grpcServer: true, metricsPort },
    ...fakes.map((name) => ({ name, groups: ['op'], grpcServer: true, services: [ping] })),
  ]);
  await net.prepare();
  sd = await startSd(net, 'sd');
  await submit(net, sd, [
    '--reset',
    join(net.dir, 'directory/001_base.json'),
    join(net.dir, 'directory/002_certificates.json'),
  ]);
  stateFile = useSd(net, 'hd-1', sd);
  hd1 = await net.start('hd-1', {}, ['--level', 'debug']);
});

after(async () => {
  await Promise.all([...servers.values()].map((s) => s.close()));
  await net?.stop();
  await sd?.process.stop();
});

test('fake tip, bad signature and huge pages are refused as unverifiable; nothing applied, heap flat', async () => {
  const chain = ourChain();
  const size = chain.length;
  const head = chain.at(-1)!.hash;
  assert.equal(await metric(metricsPort, 'eps_directory_records'), size);
  const heapBefore = await metric(metricsPort, 'nodejs_heap_size_used_bytes');

  await fakePeer('op-1', { size: size + 3, head: 'f'.repeat(64) }, () =>
    encodeRecordsResponse({ size, head }, []),
  );
  await callPeer('op-1');
  await expectAlarms(1, 'op-1');
  assert.match(hd1.output(), /served no records from index/);

  const [next] = signWith(
    'hd-1-sign',
    [{ name: 'op-2', section: 'groups', data: ['op', 'extra'], created_at: '2021-05-17T10:00:00Z' }],
    head,
  );
  const bad = { ...next!, signature: { ...next!.signature!, r: next!.signature!.s } };
  await fakePeer('op-2', { size: size + 1, head: bad.hash }, () =>
    encodeRecordsResponse({ size, head }, [bad]),
  );
  await callPeer('op-2');
  await expectAlarms(2, 'op-2');
  assert.match(hd1.output(), /served records that fail verification/);

  // More than 4 MiB in one answer: far more records than asked for, and over the gRPC message limit.
  const huge: SignedChangeRecord[] = Array.from({ length: 6_000 }, () => chain.at(-1)!);
  const hugePage = encodeRecordsResponse({ size, head }, huge);
  assert.ok(hugePage.length > 4 * 1024 * 1024);
  for (let round = 0; round < HUGE_ROUNDS; round++) {
    await fakePeer('ls-1', { size: size + 10_000 + round, head: 'e'.repeat(64) }, () => hugePage);
    await callPeer('ls-1');
    await waitFor(async () => (hd1.output().match(HUGE_REFUSED) ?? []).length === round + 1, {
      timeoutMs: ALARM_TIMEOUT_MS,
      what: `hd-1 to refuse the huge page (round ${round})\n${hd1.output()}`,
    });
  }
  await expectAlarms(3, 'ls-1');
  assert.match(hd1.output(), /cannot serve records from index/);
  assert.equal(await unverifiable(), 3, 'one alarm per peer and interval, however many attempts');

  assert.equal(await metric(metricsPort, 'eps_directory_records'), size, 'nothing applied');
  assert.equal(ourChain().length, size, 'nothing persisted');
  for (const name of fakes) await callPeer(name);
  const heapAfter = await metric(metricsPort, 'nodejs_heap_size_used_bytes');
  assert.ok(
    heapAfter - heapBefore < 32 * 1024 * 1024,
    `heap grew by ${((heapAfter - heapBefore) / 1048576).toFixed(1)} MiB`,
  );
});

test('hd-1 proves the consistency of two sizes of its chain, and refuses a size it does not have', async () => {
  const tree = RecordTree.of(ourChain());
  const session = await grpcSession(net.ports.get('hd-1')!.grpc, 'hd-1', 'ls-1');
  const ask = async (first: number, second: number) =>
    decodeConsistencyResponse(
      await session.unary(
        CONSISTENCY_PATH,
        encodeConsistencyRequest({ first, second }, 'ls-1'),
        Deadline.after(10_000),
      ),
    );
  try {
    const proof = await ask(2, tree.size);
    assert.deepEqual(checkConsistencyProof(proof, tree.tip(2), tree.tip()), { ok: true });
    await assert.rejects(
      ask(1, tree.size + 1),
      (e: unknown) =>
        e instanceof GrpcError &&
        e.code === Status.INVALID_ARGUMENT &&
        /larger than the tree/.test(e.message),
    );
  } finally {
    session.close();
  }
});
