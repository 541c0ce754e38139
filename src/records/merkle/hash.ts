/**
 * The hash shape of RFC 9162 §2.1.1 (Merkle Tree Hash, SHA-256) and what a leaf of the directory's tree is.
 *
 * A leaf is the signing message E(M) of a record (records/hash.ts `signingMessage`): the structured-hash
 * encoding of {hash, parent_hash, record}, i.e. exactly the bytes the sd admin signs. It is canonical (one
 * encoding per record), computed the same way by every sd and eps, and commits to the record's content, its
 * hash and its place in the chain (the parent hash). The signature is not part of the leaf: ECDSA signatures
 * are not unique (a record may be signed again, and (r, s) and (r, n − s) both verify), and the chain's own
 * hashes do not cover them either, so two honest parties holding the same chain always compute the same root.
 */
import { createHash } from 'node:crypto';
import type { SignedChangeRecord } from '../../core/directory-entry.js';
import { signingMessage } from '../hash.js';

/** Bytes of a SHA-256 hash. */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** MTH of the empty tree: SHA-256 of no bytes. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

/** MTH({d}) = SHA-256(0x00 || d). */
export function leafHash(data: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

/** SHA-256(0x01 || left || right): the hash of an interior node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/** The leaf bytes of a record: E({hash, parent_hash, record}), the signing message. */
export function recordLeafBytes(record: SignedChangeRecord): Buffer {
  return signingMessage(record.parent_hash, record.hash, record.record);
}

/** The leaf hash of a record: SHA-256(0x00 || recordLeafBytes(record)). */
export function recordLeafHash(record: SignedChangeRecord): Buffer {
  return leafHash(recordLeafBytes(record));
}

/** The largest power of two strictly smaller than `n` (n >= 2): the split point k of RFC 9162 §2.1.1. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
