/**
 * Merkle proofs from real `sd run` processes (file stores) [docs/protocol.md#directory-tree]: `getTreeTip`,
 * `getInclusionProof` and `getConsistencyProof` checked against a tree computed here from `getRecords`;
 * bad parameters; then `eps sd audit` over an sd, one holding a prefix of its chain (consistent) and one that
 * forked after the common prefix (inconsistent, exit 1), and `eps sd verify-proof` offline (exit 0 / 1).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  checkConsistencyProof,
  checkInclusionProof,
  parseConsistencyProof,
  parseDirectoryTip,
  parseInclusionProof,
  RecordTree,
} from '../../src/records/index.js';
import { runProgram, runPrograms } from '../helpers/processes.js';

type Ran = Awaited<ReturnType<typeof runProgram>>;
import { apiSettings } from '../helpers/records-server.js';
import { change } from '../helpers/sd-harness.js';
import { sdBed, startFileSd, submitChanges, type FileSd, type SdBed } from '../helpers/sd-file-store.js';

let bed: SdBed;
let dir: string;
let long: FileSd;
let prefix: FileSd;
let fork: FileSd;
let env: Record<string, string>;

const url = (sd: FileSd): string => sd.url;

async function submit(sd: FileSd, count: number, tag: string): Promise<void> {
  const records = Array.from({ length: count }, (_, i) => change(`op-${tag}-${i}`, 'groups', [`g-${tag}`]));
  await submitChanges(sd, records, bed.admin);
}

before(async () => {
  bed = await sdBed('sd-proofs');
  dir = bed.dir;
  long = await startFileSd(dir, 'long');
  await submit(long, 6, 'common');
  // Two more sds start from a copy of the common 6 records; then the long one and the fork go their ways.
  prefix = await startFileSd(dir, 'prefix', { copyFrom: long.store });
  fork = await startFileSd(dir, 'fork', { copyFrom: long.store });
  await submit(long, 5, 'more');
  await submit(fork, 3, 'forked');
  const settings = join(dir, 'eps-settings');
  mkdirSync(settings, { recursive: true });
  writeFileSync(
    join(settings, '001.json'),
    JSON.stringify({
      name: 'hd-1',
      channels: [],
      directory: { type: 'api', settings: apiSettings([url(long)]) },
    }),
  );
  env = { EPS_SETTINGS: settings };
});

after(async () => {
  await Promise.all([long, prefix, fork].map((sd) => sd?.stop()));
  await bed?.cleanup();
});

test('the sd answers tips and proofs that match the tree of its records', async () => {
  const records = await long.client.records();
  assert.equal(records.length, 11);
  const tree = RecordTree.of(records);
  const tip = parseDirectoryTip(await long.client.result('getTreeTip'));
  assert.deepEqual(tip, tree.tip());
  assert.deepEqual(parseDirectoryTip(await long.client.result('getTreeTip', { size: 4 })), tree.tip(4));

  const byHash = parseInclusionProof(
    await long.client.result('getInclusionProof', { hash: records[3]!.hash }),
  );
  assert.deepEqual(byHash, tree.inclusionProof(3));
  assert.deepEqual(checkInclusionProof(byHash, tip), { ok: true });
  const byIndex = parseInclusionProof(await long.client.result('getInclusionProof', { index: 2, size: 6 }));
  assert.deepEqual(checkInclusionProof(byIndex, tree.tip(6)), { ok: true });

  for (const first of [0, 1, 6, 11]) {
    const proof = parseConsistencyProof(await long.client.result('getConsistencyProof', { first }));
    assert.deepEqual(checkConsistencyProof(proof, tree.tip(first), tip), { ok: true }, `from ${first}`);
  }
});

test('bad proof parameters answer -32602 with the reason', async () => {
  const cases: [string, object, RegExp][] = [
    ['getTreeTip', { size: 12 }, /size 12 is larger than the tree \(11 records\)/],
    ['getInclusionProof', {}, /either hash .* or index/],
    ['getInclusionProof', { index: 1, hash: 'a'.repeat(64) }, /either hash/],
    ['getInclusionProof', { hash: 'a'.repeat(64) }, /no record with hash/],
    ['getInclusionProof', { hash: 'XYZ' }, /hash: must be 64 lower-case hex/],
    ['getInclusionProof', { index: 11 }, /record 11 is not in the tree of the first 11/],
    ['getConsistencyProof', { first: 5, second: 3 }, /first 5 is larger than second 3/],
    ['getConsistencyProof', { first: -1 }, /first/],
    ['getConsistencyProof', { first: 1.5 }, /first/],
  ];
  for (const [method, params, message] of cases) {
    const reply = await long.client.call(method, params as never);
    const error = reply.body.error as { code: number; message: string } | undefined;
    assert.equal(error?.code, -32602, `${method} ${JSON.stringify(params)}`);
    assert.match(error.message, message);
  }
});

test('eps sd audit: a prefix is consistent (exit 0), a fork is not (exit 1)', async () => {
  const [ok, bad, usage] = (await runPrograms([
    { bin: 'eps', args: ['sd', 'audit', url(prefix), url(long)], env },
    { bin: 'eps', args: ['sd', 'audit', url(long), url(prefix), url(fork)], env },
    { bin: 'eps', args: ['sd', 'audit', url(long)], env },
  ])) as [Ran, Ran, Ran];
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  assert.match(ok.stdout, /PARTY\s+SIZE\s+HEAD\s+ROOT/);
  assert.match(ok.stdout, new RegExp(`${url(prefix)}\\s+6\\s`));
  assert.match(ok.stdout, new RegExp(`${url(long)}\\s+11\\s`));
  assert.match(ok.stdout, /consistent {2}/);

  assert.equal(bad.code, 1, bad.stderr + bad.stdout);
  assert.match(bad.stdout, new RegExp(`INCONSISTENT +${url(fork)} <= ${url(long)}: the proof does not lead`));
  assert.match(bad.stdout, new RegExp(`consistent +${url(prefix)} <= ${url(fork)}`));
  assert.match(bad.stderr, /not consistent/);

  assert.equal(usage.code, 1);
  assert.match(usage.stderr, /give between 2 and 16 URLs/);
});

test('eps sd verify-proof: valid proofs exit 0, tampered ones exit 1 with the reason', async () => {
  const tip6 = await prefix.client.result('getTreeTip');
  const tip11 = await long.client.result('getTreeTip');
  const files = {
    tip6: join(dir, 'tip6.json'),
    tip11: join(dir, 'tip11.json'),
    consistency: join(dir, 'consistency.json'),
    inclusion: join(dir, 'inclusion.json'),
    record: join(dir, 'record.json'),
  };
  const records = await long.client.records();
  writeFileSync(files.tip6, JSON.stringify(tip6));
  writeFileSync(files.tip11, JSON.stringify(tip11));
  writeFileSync(
    files.consistency,
    JSON.stringify(await long.client.result('getConsistencyProof', { first: 6 })),
  );
  writeFileSync(files.inclusion, JSON.stringify(await long.client.result('getInclusionProof', { index: 7 })));
  writeFileSync(files.record, JSON.stringify(records[7]));

  const forkTip = JSON.stringify(await fork.client.result('getTreeTip', { size: 6 }));
  const tampered = JSON.stringify({ ...(tip6 as object), root: 'ab'.repeat(32) });
  const verify = (...args: string[]): { bin: string; args: string[] } => ({
    bin: 'eps',
    args: ['sd', 'verify-proof', ...args],
  });
  // Independent runs, at once (runPrograms).
  const [consistent, included, wrongOrder, prefixOfFork, bad, otherRecord, garbage] = (await runPrograms([
    verify(files.consistency, files.tip6, files.tip11),
    verify(files.inclusion, files.tip11, '--record', files.record),
    verify(files.consistency, files.tip11, files.tip6),
    verify(files.consistency, forkTip, files.tip11),
    verify(files.consistency, tampered, files.tip11),
    verify(files.inclusion, files.tip11, '--record', JSON.stringify(records[6])),
    verify('{"first": "x"}', files.tip6, files.tip11),
  ])) as [Ran, Ran, Ran, Ran, Ran, Ran, Ran];
  assert.equal(consistent.code, 0, consistent.stderr);
  assert.match(
    consistent.stdout,
    /Proof is valid: the 6 records with root [0-9a-f]{64} are a prefix of the 11/,
  );
  assert.equal(included.code, 0, included.stderr);
  assert.match(included.stdout, new RegExp(`record ${records[7]!.hash} is record 7 of the 11 records`));

  assert.equal(wrongOrder.code, 1);
  assert.match(
    wrongOrder.stderr,
    /Proof is not valid! the proof is from size 6 to 11, the tips have sizes 11 and 6/,
  );
  // The fork's size-6 tip is the common prefix: still consistent. A changed root is not.
  assert.equal(prefixOfFork.code, 0);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /the proof does not lead to the root of size 6/);
  assert.equal(otherRecord.code, 1);
  assert.match(otherRecord.stderr, /not about record/);
  assert.equal(garbage.code, 1);
  assert.match(garbage.stderr, /invalid consistency proof: consistency proof\.first/);
});
