// The Merkle tree of src/records/merkle against the RFC 9162 §2.1 definitions written out plainly here
// (recursion over arrays), the Certificate Transparency test vectors, and exhaustive proofs for sizes <= 64.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  EMPTY_ROOT,
  leafHash,
  MerkleTree,
  verifyConsistency,
  verifyInclusion,
} from '../../src/records/index.js';

const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Buffer => Buffer.from(s, 'hex');

// --- the definitions, independently: MTH, PATH and PROOF over an array of leaf bytes ---
function largestPowerBelow(n: number): number {
  let k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}
/** Memo of mth over slices of the test's leaf arrays: the first leaf object and the length name a slice. */
const memo = new WeakMap<Uint8Array, Map<number, Buffer>>();
function mth(d: Uint8Array[]): Buffer {
  if (d.length === 0) return sha();
  const known = memo.get(d[0]!)?.get(d.length);
  if (known) return known;
  let result: Buffer;
  if (d.length === 1) result = sha(Buffer.from([0]), d[0]!);
  else {
    const k = largestPowerBelow(d.length);
    result = sha(Buffer.from([1]), mth(d.slice(0, k)), mth(d.slice(k)));
  }
  if (!memo.has(d[0]!)) memo.set(d[0]!, new Map());
  memo.get(d[0]!)!.set(d.length, result);
  return result;
}
function auditPath(m: number, d: Uint8Array[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = largestPowerBelow(d.length);
  return m < k
    ? [...auditPath(m, d.slice(0, k)), mth(d.slice(k))]
    : [...auditPath(m - k, d.slice(k)), mth(d.slice(0, k))];
}
function subproof(m: number, d: Uint8Array[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = largestPowerBelow(d.length);
  return m <= k
    ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))]
    : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}
const consistency = (m: number, d: Uint8Array[]): Buffer[] =>
  m === 0 || m === d.length ? [] : subproof(m, d, true);

// --- the Certificate Transparency vectors (leaf bytes, roots of sizes 1..8, two proofs of each kind) ---
const CT_DATA = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(unhex);
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_INCLUSION: { index: number; size: number; path: string[] }[] = [
  {
    index: 0,
    size: 8,
    path: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    path: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];
const CT_CONSISTENCY: { first: number; second: number; path: string[] }[] = [
  {
    first: 2,
    second: 8,
    path: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    first: 6,
    second: 8,
    path: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

/** Deterministic leaf bytes i of the property tests: different lengths, so no two leaves are equal. */
const leafData = (i: number): Buffer => sha(Buffer.from(`leaf ${i}`)).subarray(0, 1 + (i % 32));
const MAX = 64;
const DATA = Array.from({ length: MAX }, (_, i) => leafData(i));
const TREE = MerkleTree.of(DATA.map(leafHash));

/** Mutations of a proof that must all fail: a flipped bit in each hash, one hash less, one more, two swapped. */
function tampered(path: Buffer[]): Buffer[][] {
  const out: Buffer[][] = [];
  path.forEach((_, i) => {
    const copy = path.map((h) => Buffer.from(h));
    const hash = copy[i]!;
    hash[i % 32] = hash[i % 32]! ^ 0x01;
    out.push(copy);
  });
  if (path.length > 0) out.push(path.slice(0, -1));
  out.push([...path, sha(Buffer.from('extra'))]);
  if (path.length > 1 && !path[0]!.equals(path[1]!)) out.push([path[1]!, path[0]!, ...path.slice(2)]);
  return out;
}

describe('Merkle tree (RFC 9162 §2.1)', () => {
  it('matches the Certificate Transparency roots for sizes 0..8, and the plain definition', () => {
    const tree = MerkleTree.of(CT_DATA.map(leafHash));
    assert.equal(hex(tree.root(0)), hex(sha()));
    assert.equal(hex(EMPTY_ROOT), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    for (let n = 1; n <= 8; n++) {
      assert.equal(hex(tree.root(n)), CT_ROOTS[n - 1], `size ${n}`);
      assert.equal(hex(mth(CT_DATA.slice(0, n))), CT_ROOTS[n - 1], `definition, size ${n}`);
    }
  });

  it('gives the Certificate Transparency inclusion and consistency proofs, and verifies them', () => {
    const tree = MerkleTree.of(CT_DATA.map(leafHash));
    for (const v of CT_INCLUSION) {
      assert.deepEqual(tree.inclusionProof(v.index, v.size).map(hex), v.path);
      const check = verifyInclusion(
        tree.leaf(v.index),
        v.index,
        v.size,
        v.path.map(unhex),
        unhex(CT_ROOTS[v.size - 1]!),
      );
      assert.deepEqual(check, { ok: true });
    }
    for (const v of CT_CONSISTENCY) {
      assert.deepEqual(tree.consistencyProof(v.first, v.second).map(hex), v.path);
      const roots = [v.first, v.second].map((n) => unhex(CT_ROOTS[n - 1]!));
      assert.deepEqual(verifyConsistency(v.first, v.second, roots[0]!, roots[1]!, v.path.map(unhex)), {
        ok: true,
      });
    }
  });

  it('roots and inclusion proofs of every size <= 64 equal the definition; each verifies, every tampering fails', () => {
    let checked = 0;
    for (let n = 1; n <= MAX; n++) {
      const root = TREE.root(n);
      assert.equal(hex(root), hex(mth(DATA.slice(0, n))), `root of ${n}`);
      for (let i = 0; i < n; i++) {
        const path = TREE.inclusionProof(i, n);
        assert.deepEqual(path.map(hex), auditPath(i, DATA.slice(0, n)).map(hex), `path ${i}/${n}`);
        assert.deepEqual(verifyInclusion(TREE.leaf(i), i, n, path, root), { ok: true }, `verify ${i}/${n}`);
        for (const bad of tampered(path))
          assert.equal(verifyInclusion(TREE.leaf(i), i, n, bad, root).ok, false);
        // The right proof for the wrong position or the wrong leaf fails too.
        if (n > 1) assert.equal(verifyInclusion(TREE.leaf(i), (i + 1) % n, n, path, root).ok, false);
        assert.equal(verifyInclusion(TREE.leaf((i + 1) % MAX), i, n, path, root).ok, false);
        checked++;
      }
    }
    assert.equal(checked, (MAX * (MAX + 1)) / 2);
  });

  it('consistency proofs of every m <= n <= 64 equal the definition; each verifies, every tampering fails', () => {
    for (let n = 0; n <= MAX; n++) {
      for (let m = 0; m <= n; m++) {
        const path = TREE.consistencyProof(m, n);
        assert.deepEqual(path.map(hex), consistency(m, DATA.slice(0, n)).map(hex), `proof ${m}->${n}`);
        const [a, b] = [TREE.root(m), TREE.root(n)];
        assert.deepEqual(verifyConsistency(m, n, a, b, path), { ok: true }, `verify ${m}->${n}`);
        for (const bad of tampered(path))
          assert.equal(verifyConsistency(m, n, a, b, bad).ok, false, `${m}->${n}`);
        // A different first tree of the same size (one leaf changed) is not a prefix.
        if (m > 0) {
          const other = MerkleTree.of(DATA.slice(0, m).map((d, i) => leafHash(i === m - 1 ? sha(d) : d)));
          assert.equal(verifyConsistency(m, n, other.root(), b, path).ok, false, `forged ${m}->${n}`);
        }
      }
    }
  });

  it('random sizes up to 5,000: proofs from the incremental tree verify against the definition roots', () => {
    let seed = 12345;
    const random = (below: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % below;
    };
    const data = Array.from({ length: 5000 }, (_, i) => leafData(i));
    const tree = MerkleTree.of(data.map(leafHash));
    for (let round = 0; round < 40; round++) {
      const n = 1 + random(5000);
      const m = random(n + 1);
      const i = random(n);
      const [rm, rn] = [mth(data.slice(0, m)), mth(data.slice(0, n))];
      assert.equal(hex(tree.root(n)), hex(rn));
      assert.deepEqual(
        verifyConsistency(m, n, rm, rn, tree.consistencyProof(m, n)),
        { ok: true },
        `${m}->${n}`,
      );
      assert.deepEqual(verifyInclusion(tree.leaf(i), i, n, tree.inclusionProof(i, n), rn), { ok: true });
    }
  });

  it('refuses malformed requests and malformed proofs with a reason', () => {
    assert.throws(() => TREE.root(MAX + 1), RangeError);
    assert.throws(() => TREE.inclusionProof(5, 5), RangeError);
    assert.throws(() => TREE.inclusionProof(-1, 5), RangeError);
    assert.throws(() => TREE.consistencyProof(6, 5), RangeError);
    assert.throws(() => TREE.consistencyProof(1.5, 5), RangeError);
    const root = TREE.root(8);
    const path = TREE.inclusionProof(3, 8);
    assert.match(
      String((verifyInclusion(TREE.leaf(3), 8, 8, path, root) as { reason: string }).reason),
      /not in a tree/,
    );
    assert.match(
      String(
        (
          verifyInclusion(TREE.leaf(3), 3, 8, [Buffer.alloc(31), ...path.slice(1)], root) as {
            reason: string;
          }
        ).reason,
      ),
      /32 bytes/,
    );
    assert.equal(verifyConsistency(4, 4, TREE.root(4), TREE.root(4), []).ok, true);
    assert.equal(verifyConsistency(4, 4, TREE.root(4), TREE.root(5), []).ok, false);
    assert.equal(verifyConsistency(4, 4, TREE.root(4), TREE.root(4), [root]).ok, false);
    assert.equal(verifyConsistency(0, 8, EMPTY_ROOT, root, []).ok, true);
    assert.equal(verifyConsistency(0, 8, TREE.root(1), root, []).ok, false);
    assert.equal(verifyConsistency(5, 8, TREE.root(5), root, []).ok, false);
    assert.equal(verifyConsistency(8, 5, root, TREE.root(5), []).ok, false);
  });
});
