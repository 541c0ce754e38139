/**
 * PeerCheck against a stand-in chain and a peer served from a chain in memory: a peer we cannot connect to
 * raises no alarm, a peer that serves nothing for the tip it claims is unverifiable; a peer ahead first
 * proves with a consistency proof that our chain is its prefix (then its records are handed to the
 * directory, which verifies them, and raise `withheld`), a failed proof leads to its branch (a `fork` when it
 * verifies after our common prefix, `unverifiable` when its records agree with ours after all); a peer
 * without the proof method is healed from its records; a root that is not ours at a shared head is
 * unverifiable; a page larger than asked is refused by the wire decoder.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SignedChangeRecord } from '../../src/core/directory-entry.js';
import { GrpcError, Status } from '../../src/grpc/status.js';
import { ChainTree, RecordTree } from '../../src/records/index.js';
import { Alarms } from '../../src/transparency/alarms.js';
import {
  PeerCheck,
  PeerUnreachable,
  type PeerSource,
  type VerifiedChain,
} from '../../src/transparency/peer-check.js';
import type { Tip } from '../../src/transparency/tip.js';
import { TipError } from '../../src/transparency/tip.js';
import { decodeRecordsResponse, encodeRecordsResponse } from '../../src/transparency/wire.js';
import { ManualClock } from '../helpers/manual-clock.js';

const hash = (i: number, branch = 0): string => (branch * 1_000_000 + i).toString(16).padStart(64, '0');
/** Record i of a chain; records from `forkAt` on belong to branch 1 (other content, other hashes). */
function record(i: number, forkAt = Infinity): SignedChangeRecord {
  const branch = (at: number): number => (at >= forkAt ? 1 : 0);
  return {
    parent_hash: i === 0 ? '' : hash(i - 1, branch(i - 1)),
    hash: hash(i, branch(i)),
    signature: null,
    record: {
      name: 'op-1',
      section: 'groups',
      data: [String(branch(i))],
      created_at: '2021-05-17T10:00:00Z',
    },
  };
}
const chainRecords = (size: number, forkAt = Infinity): SignedChangeRecord[] =>
  Array.from({ length: size }, (_, i) => record(i, forkAt));

interface Ours extends VerifiedChain {
  records: SignedChangeRecord[];
  branches: { common: number; branch: number }[];
}

function chainOf(size: number): Ours {
  const records = chainRecords(size);
  const merkle = new ChainTree();
  const ours: Ours = {
    records,
    branches: [],
    sdName: 'https://sd',
    chain: () => records,
    tree: () => merkle.sync(records),
    extendFromPeer: async (page) => {
      records.push(...page);
      return { kind: 'extended', added: page.length };
    },
    verifyBranch: async (common, branch) => {
      ours.branches.push({ common: common.length, branch: branch.length });
    },
  };
  return ours;
}

/** A peer serving `records` (and proofs over them, or a proof error), counting what it was asked. */
function peer(records: SignedChangeRecord[], proofError?: Error): PeerSource & { asked: string[] } {
  const tree = RecordTree.of(records);
  const tip = (): Tip => tree.tip();
  const asked: string[] = [];
  return {
    asked,
    page: async (_peer, q) => {
      asked.push(`page ${q.from}+${q.limit}`);
      return { tip: tip(), records: records.slice(q.from, q.from + q.limit) };
    },
    consistency: async (_peer, q) => {
      asked.push(`proof ${q.first}-${q.second}`);
      if (proofError) throw proofError;
      return tree.consistencyProof(q.first, q.second);
    },
  };
}

const totals = (alarms: Alarms): number[] => Object.values(alarms.totals());

test('no connection to the peer: no alarm; nothing served for a claimed tip: unverifiable', async () => {
  const alarms = new Alarms(new ManualClock());
  const ahead = { size: 5, head: hash(4) };
  const none = async (): Promise<never> => {
    throw new PeerUnreachable('no route');
  };
  const unreachable = new PeerCheck(chainOf(3), { page: none, consistency: none }, alarms);
  assert.equal(await unreachable.run('p', ahead), 'unreachable');
  assert.deepEqual(totals(alarms), [0, 0, 0]);
  const empty = new PeerCheck(chainOf(3), peer([]), alarms);
  assert.equal(await empty.run('p', ahead), 'unverifiable');
  assert.deepEqual(alarms.totals(), { withheld: 0, fork: 0, unverifiable: 1 });
});

test('a peer ahead proves our chain is its prefix, then its records go to the directory: withheld', async () => {
  const alarms = new Alarms(new ManualClock());
  const ours = chainOf(3);
  const theirs = peer(chainRecords(5));
  const check = new PeerCheck(ours, theirs, alarms);
  assert.equal(await check.run('p', RecordTree.of(chainRecords(5)).tip()), 'healed');
  assert.deepEqual(theirs.asked, ['proof 3-5', 'page 3+2']);
  assert.equal(ours.records.length, 5);
  assert.equal(alarms.recent()[0]?.kind, 'withheld');
  assert.deepEqual(alarms.recent()[0]?.ours, { size: 3, head: hash(2) });
});

test('a failed proof leads to the branch: a fork verified after the common prefix only', async () => {
  const alarms = new Alarms(new ManualClock());
  const ours = chainOf(40);
  const forked = chainRecords(50, 30);
  const theirs = peer(forked);
  assert.equal(await new PeerCheck(ours, theirs, alarms).run('p', RecordTree.of(forked).tip()), 'fork');
  assert.equal(theirs.asked[0], 'proof 40-50');
  assert.ok(!theirs.asked.some((a) => a.startsWith('page 40')), 'no records fetched as an extension');
  assert.deepEqual(ours.branches, [{ common: 30, branch: 20 }]);
  assert.equal(ours.records.length, 40, 'nothing adopted');
  assert.match(alarms.recent()[0]!.detail, /the chains differ from record 30/);
});

test('a proof that fails while the records agree with ours is unverifiable; nothing is taken', async () => {
  const alarms = new Alarms(new ManualClock());
  const ours = chainOf(3);
  const records = chainRecords(5);
  const lyingRoot = { ...RecordTree.of(records).tip(), root: 'ab'.repeat(32) };
  assert.equal(await new PeerCheck(ours, peer(records), alarms).run('p', lyingRoot), 'unverifiable');
  assert.equal(ours.records.length, 3);
  assert.match(alarms.recent()[0]!.detail, /records agree with our first 3, which its proof denies/);
});

test('a peer without the proof method is healed from its records; a wrong root at our head is unverifiable', async () => {
  const alarms = new Alarms(new ManualClock());
  const ours = chainOf(3);
  const records = chainRecords(5);
  const old = peer(records, new GrpcError(Status.UNIMPLEMENTED, 'unknown method'));
  assert.equal(await new PeerCheck(ours, old, alarms).run('p', RecordTree.of(records).tip()), 'healed');
  assert.deepEqual(old.asked, ['proof 3-5', 'page 3+2']);

  const same = new PeerCheck(ours, peer(records), alarms);
  assert.equal(await same.run('p', RecordTree.of(records).tip()), 'consistent');
  assert.equal(await same.run('p', RecordTree.of(records).tip(4)), 'consistent', 'a prefix of ours');
  const wrong = { ...RecordTree.of(records).tip(4), root: 'cd'.repeat(32) };
  assert.equal(await same.run('q', wrong), 'unverifiable');
  assert.match(alarms.recent().at(-1)!.detail, /its root for 4 records is not the root of those records/);
});

test('a page with more records than asked for is refused whole', () => {
  const page = Buffer.from(
    encodeRecordsResponse(
      { size: 9, head: hash(8) },
      [1, 2, 3].map((i) => record(i)),
    ),
  );
  assert.throws(() => decodeRecordsResponse(page, 2), TipError);
});
