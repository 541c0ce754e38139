// The tree over directory records: what a leaf is, tips, proofs in their JSON form, and strict parsing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { SignedChangeRecord } from '../../src/core/directory-entry.js';
import {
  checkConsistencyProof,
  checkInclusionProof,
  EMPTY_ROOT,
  MAX_PROOF_HASHES,
  parseConsistencyProof,
  parseDirectoryTip,
  parseInclusionProof,
  recordHash,
  recordLeafBytes,
  RecordTree,
  signingMessage,
} from '../../src/records/index.js';

/** An (unsigned) chain of `n` records: leaves do not depend on signatures. */
function chain(n: number, from: SignedChangeRecord[] = [], tag = 'a'): SignedChangeRecord[] {
  const out = [...from];
  for (let i = from.length; i < n; i++) {
    const record = {
      name: `op-${tag}-${i}.example`,
      section: 'groups',
      data: [`g${i}`],
      created_at: `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}.${String(i).padStart(6, '0')}Z`,
    };
    out.push({ parent_hash: out.at(-1)?.hash ?? '', hash: recordHash(record), signature: null, record });
  }
  return out;
}

describe('RecordTree', () => {
  const records = chain(40);
  const tree = RecordTree.of(records);

  it('uses the signing message as the leaf, so signatures do not change the root', () => {
    const r = records[7]!;
    assert.deepEqual(recordLeafBytes(r), signingMessage(r.parent_hash, r.hash, r.record));
    const signed = records.map((x) => ({ ...x, signature: { r: '01', s: '02', c: 'pem' } }));
    assert.deepEqual(RecordTree.of(signed).tip(), tree.tip());
    const leaf = createHash('sha256')
      .update(Buffer.from([0]))
      .update(recordLeafBytes(r))
      .digest('hex');
    assert.equal(tree.inclusionProof(7).leaf_hash, leaf);
  });

  it('gives tips of every size: the head is the hash of the last record', () => {
    assert.deepEqual(new RecordTree().tip(), { size: 0, head: '', root: EMPTY_ROOT.toString('hex') });
    assert.deepEqual(tree.tip(0), new RecordTree().tip());
    for (const n of [1, 2, 17, 40]) {
      const tip = tree.tip(n);
      assert.equal(tip.size, n);
      assert.equal(tip.head, records[n - 1]!.hash);
      assert.deepEqual(tip, RecordTree.of(records.slice(0, n)).tip());
    }
    assert.equal(tree.indexOf(records[12]!.hash), 12);
    assert.equal(tree.indexOf('0'.repeat(64)), undefined);
  });

  it('proves inclusion and consistency in JSON form; JSON round trips and tips check', () => {
    for (const n of [1, 5, 40]) {
      for (let i = 0; i < n; i += 3) {
        const proof = parseInclusionProof(JSON.parse(JSON.stringify(tree.inclusionProof(i, n))));
        assert.equal(proof.record_hash, records[i]!.hash);
        assert.deepEqual(checkInclusionProof(proof, tree.tip(n)), { ok: true });
        assert.equal(checkInclusionProof(proof, tree.tip(n === 1 ? 2 : n - 1)).ok, false);
      }
      for (let m = 0; m <= n; m += 4) {
        const proof = parseConsistencyProof(JSON.parse(JSON.stringify(tree.consistencyProof(m, n))));
        assert.deepEqual(checkConsistencyProof(proof, tree.tip(m), tree.tip(n)), { ok: true }, `${m}->${n}`);
      }
    }
  });

  it('a fork after a common prefix is not consistent, and no proof makes it so', () => {
    const common = records.slice(0, 20);
    const fork = RecordTree.of(chain(30, common, 'b'));
    const forkTip = fork.tip();
    // The fork's own proof from 25 to 30 does not connect our size 25 to its 30.
    const proof = fork.consistencyProof(25, 30);
    const check = checkConsistencyProof(proof, tree.tip(25), forkTip);
    assert.equal(check.ok, false);
    // Up to the common prefix both agree.
    assert.deepEqual(checkConsistencyProof(fork.consistencyProof(20, 30), tree.tip(20), forkTip), {
      ok: true,
    });
    // Same size, different heads.
    const same = checkConsistencyProof(tree.consistencyProof(30, 30), tree.tip(30), forkTip);
    assert.match((same as { reason: string }).reason, /different heads/);
  });

  it('refuses the wrong sizes for the tips, and a last record that is not the head', () => {
    const proof = tree.inclusionProof(39, 40);
    const tip = tree.tip(40);
    assert.match(
      (checkInclusionProof({ ...proof, record_hash: records[3]!.hash }, tip) as { reason: string }).reason,
      /head/,
    );
    const cons = tree.consistencyProof(10, 40);
    assert.match(
      (checkConsistencyProof(cons, tree.tip(11), tip) as { reason: string }).reason,
      /sizes 11 and 40/,
    );
  });

  it('parses untrusted JSON strictly, with the field named', () => {
    const tip = tree.tip();
    assert.deepEqual(parseDirectoryTip(JSON.parse(JSON.stringify(tip))), tip);
    assert.throws(() => parseDirectoryTip({ ...tip, size: -1 }), /tip\.size/);
    assert.throws(
      () => parseDirectoryTip({ ...tip, root: tip.root.toUpperCase() }),
      /tip\.root: must be 64 lower-case hex/,
    );
    assert.throws(() => parseDirectoryTip({ ...tip, size: 1.5 }), /tip\.size/);
    assert.throws(() => parseDirectoryTip('x'), /invalid tip/);
    const proof = tree.consistencyProof(3, 40);
    const long = { ...proof, path: Array.from({ length: MAX_PROOF_HASHES + 1 }, () => tip.root) };
    assert.throws(() => parseConsistencyProof(long), /consistency proof\.path/);
    assert.throws(() => parseInclusionProof({ ...tree.inclusionProof(0), leaf_index: '0' }), /leaf_index/);
  });
});
