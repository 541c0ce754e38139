/**
 * VerifiedMirror.verifyBranch (a peer's branch for a fork check, docs/transparency.md): after our own
 * verified prefix only the branch is verified (same rules, our mirror untouched); a prefix that is not ours
 * (a reset in between) is verified too.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChangeRecord, SignedChangeRecord } from '../../src/core/directory-entry.js';
import { DirectoryRefreshError } from '../../src/directory/api-errors.js';
import { VerifiedMirror } from '../../src/directory/verified-mirror.js';
import { recordHash, signRecords, TrustStore } from '../../src/records/index.js';
import { createTestPki } from '../helpers/records-pki.js';

const groups = (tag: string, count: number): ChangeRecord[] =>
  Array.from({ length: count }, (_, i) => ({
    name: `op-${i}`,
    section: 'groups',
    data: [`${tag}-${i}`],
    created_at: '2021-05-17T10:00:00Z',
  }));

/** Changes the content of record `i` and fixes its hash: its signature no longer matches. */
function tamper(records: SignedChangeRecord[], i: number): SignedChangeRecord[] {
  const copy = records.map((r) => ({ ...r, record: { ...r.record } }));
  copy[i]!.record.data = ['tampered'];
  copy[i]!.hash = recordHash(copy[i]!.record);
  return copy;
}

test('a branch after our prefix is verified alone; a foreign prefix is verified with it', async () => {
  const { root, intermediate, admin } = await createTestPki();
  const trust = TrustStore.fromPem([root.pem], [intermediate.pem]);
  const sign = (changes: ChangeRecord[], parent: string) =>
    signRecords(changes, parent, admin.key, admin.pem);
  const ours = sign(groups('a', 5), '');
  const mirror = new VerifiedMirror(trust);
  await mirror.ingestRecords(ours);

  const branch = sign(groups('b', 4), ours[2]!.hash);
  await mirror.verifyBranch(ours.slice(0, 3), branch);
  assert.equal(mirror.length, 5, 'our mirror is untouched');
  await assert.rejects(mirror.verifyBranch(ours.slice(0, 3), tamper(branch, 2)), DirectoryRefreshError);
  await assert.rejects(
    mirror.verifyBranch(ours.slice(0, 2), branch),
    /parent/,
    'the branch must hang off it',
  );

  // Not our prefix: verified as a whole, so a bad record in it fails the branch.
  const other = sign(groups('c', 3), '');
  const otherBranch = sign(groups('d', 2), other[2]!.hash);
  await mirror.verifyBranch(other, otherBranch);
  await assert.rejects(mirror.verifyBranch(tamper(other, 1), otherBranch), DirectoryRefreshError);
});
