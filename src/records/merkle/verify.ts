/**
 * Verification of inclusion and consistency proofs, following the algorithms of RFC 9162 §2.1.3.2 and
 * §2.1.4.2. Never throws: a bad proof (wrong hashes, wrong length, malformed sizes) gives a reason.
 */
import { EMPTY_ROOT, HASH_SIZE, nodeHash } from './hash.js';

export type ProofCheck = { ok: true } | { ok: false; reason: string };

const OK: ProofCheck = { ok: true };
const fail = (reason: string): ProofCheck => ({ ok: false, reason });

function isSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function badHash(hashes: readonly Uint8Array[]): boolean {
  return hashes.some((h) => h.length !== HASH_SIZE);
}

/**
 * Checks that `leafHash` is leaf `index` of the tree of `size` leaves whose root is `root`, given the audit
 * path `proof`.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): ProofCheck {
  if (!isSize(index) || !isSize(size) || index >= size) {
    return fail(`leaf index ${index} is not in a tree of size ${size}`);
  }
  if (badHash([leafHash, root, ...proof])) return fail(`every hash must have ${HASH_SIZE} bytes`);
  // Walk up from the leaf: `fn` is our node's index on the current level, `sn` the last node's index.
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leafHash;
  for (const p of proof) {
    if (sn === 0) return fail('the proof has more hashes than the tree has levels');
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      // A right-edge node without a right sibling moves up unchanged until it is a right child again.
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return fail('the proof has fewer hashes than the tree has levels');
  return Buffer.compare(r, root) === 0 ? OK : fail('the proof does not lead to the root');
}

/**
 * Checks that the tree of `first` leaves with root `firstRoot` is a prefix of the tree of `second` leaves with
 * root `secondRoot`, given the consistency proof `proof`.
 */
export function verifyConsistency(
  first: number,
  second: number,
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
  proof: readonly Uint8Array[],
): ProofCheck {
  if (!isSize(first) || !isSize(second) || first > second) {
    return fail(`first size ${first} must be between 0 and the second size ${second}`);
  }
  if (badHash([firstRoot, secondRoot, ...proof])) return fail(`every hash must have ${HASH_SIZE} bytes`);
  if (first === 0 || first === second) {
    if (proof.length !== 0) return fail(`a proof from size ${first} to ${second} has no hashes`);
    if (first === 0) {
      return Buffer.compare(firstRoot, EMPTY_ROOT) === 0
        ? OK
        : fail('the root of size 0 is not the empty root');
    }
    return Buffer.compare(firstRoot, secondRoot) === 0 ? OK : fail(`two different roots for size ${first}`);
  }
  if (proof.length === 0) return fail('the proof is empty');
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Uint8Array = path[0]!;
  let sr: Uint8Array = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return fail('the proof has more hashes than needed');
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return fail('the proof has fewer hashes than needed');
  if (Buffer.compare(fr, firstRoot) !== 0)
    return fail(`the proof does not lead to the root of size ${first}`);
  if (Buffer.compare(sr, secondRoot) !== 0)
    return fail(`the proof does not lead to the root of size ${second}`);
  return OK;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && Number.isInteger(Math.log2(n));
}
