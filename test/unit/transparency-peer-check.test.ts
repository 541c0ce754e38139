/**
 * PeerCheck against a stand-in chain: a peer we cannot connect to raises no alarm, a peer that serves
 * nothing for the tip it claims is unverifiable, a page that extends our head is handed to the directory
 * (which verifies it) and raises `withheld`, and a page larger than asked is refused by the wire decoder.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SignedChangeRecord } from '../../src/core/directory-entry.js';
import { Alarms } from '../../src/transparency/alarms.js';
import { PeerCheck, PeerUnreachable, type VerifiedChain } from '../../src/transparency/peer-check.js';
import { TipError } from '../../src/transparency/tip.js';
import { decodeRecordsResponse, encodeRecordsResponse } from '../../src/transparency/wire.js';
import { ManualClock } from '../helpers/manual-clock.js';

const hash = (i: number): string => i.toString(16).padStart(64, '0');
const record = (i: number): SignedChangeRecord => ({
  parent_hash: i === 0 ? '' : hash(i - 1),
  hash: hash(i),
  signature: null,
  record: { name: 'op-1', section: 'groups', data: [], created_at: '2021-05-17T10:00:00Z' },
});

function chainOf(size: number): VerifiedChain & { records: SignedChangeRecord[] } {
  const records = Array.from({ length: size }, (_, i) => record(i));
  return {
    records,
    sdName: 'https://sd',
    chain: () => records,
    extendFromPeer: async (page) => {
      records.push(...page);
      return { kind: 'extended', added: page.length };
    },
    verifyBranch: async () => undefined,
  };
}

test('no connection to the peer: no alarm; nothing served for a claimed tip: unverifiable', async () => {
  const alarms = new Alarms(new ManualClock());
  const ahead = { size: 5, head: hash(4) };
  const unreachable = new PeerCheck(
    chainOf(3),
    async () => {
      throw new PeerUnreachable('no route');
    },
    alarms,
  );
  assert.equal(await unreachable.run('p', ahead), 'unreachable');
  assert.deepEqual(alarms.totals(), { withheld: 0, fork: 0, unverifiable: 0 });
  const empty = new PeerCheck(chainOf(3), async () => ({ tip: ahead, records: [] }), alarms);
  assert.equal(await empty.run('p', ahead), 'unverifiable');
  assert.deepEqual(alarms.totals(), { withheld: 0, fork: 0, unverifiable: 1 });
});

test('records that extend our head are handed to the directory and raise withheld', async () => {
  const alarms = new Alarms(new ManualClock());
  const ours = chainOf(3);
  const check = new PeerCheck(
    ours,
    async (_peer, q) => ({ tip: { size: 5, head: hash(4) }, records: [3, 4].slice(0, q.limit).map(record) }),
    alarms,
  );
  assert.equal(await check.run('p', { size: 5, head: hash(4) }), 'healed');
  assert.equal(ours.records.length, 5);
  assert.equal(alarms.recent()[0]?.kind, 'withheld');
  assert.deepEqual(alarms.recent()[0]?.ours, { size: 3, head: hash(2) });
});

test('a page with more records than asked for is refused whole', () => {
  const page = Buffer.from(encodeRecordsResponse({ size: 9, head: hash(8) }, [1, 2, 3].map(record)));
  assert.throws(() => decodeRecordsResponse(page, 2), TipError);
});
