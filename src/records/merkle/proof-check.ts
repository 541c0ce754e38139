/**
 * Proofs and tips in their JSON form (as the sd and the eps answer them): strict parsing of untrusted input
 * and verification against tips. Sizes must be safe integers, hashes 64 lower-case hex characters, and a
 * path at most MAX_PROOF_HASHES long.
 */
import { z } from 'zod';
import type { ConsistencyProof, DirectoryTip, InclusionProof } from './record-tree.js';
import { verifyConsistency, verifyInclusion, type ProofCheck } from './verify.js';

/** More hashes than any proof of a tree below 2^53 leaves needs (2·53 for a consistency proof). */
export const MAX_PROOF_HASHES = 128;

const HEX_HASH = /^[a-f0-9]{64}$/;
const hash = z.string().regex(HEX_HASH, 'must be 64 lower-case hex characters');
const size = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const path = z.array(hash).max(MAX_PROOF_HASHES);

export const directoryTipSchema = z.object({
  size,
  head: z.union([hash, z.literal('')]),
  root: hash,
});

export const inclusionProofSchema = z.object({
  tree_size: size,
  leaf_index: size,
  record_hash: hash,
  leaf_hash: hash,
  path,
});

export const consistencyProofSchema = z.object({ first: size, second: size, path });

/** Parses untrusted JSON into a tip; throws a TypeError naming the bad field. */
export function parseDirectoryTip(value: unknown, what = 'tip'): DirectoryTip {
  return parseWith(directoryTipSchema, value, what);
}

export function parseInclusionProof(value: unknown): InclusionProof {
  return parseWith(inclusionProofSchema, value, 'inclusion proof');
}

export function parseConsistencyProof(value: unknown): ConsistencyProof {
  return parseWith(consistencyProofSchema, value, 'consistency proof');
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const at = issue.path.length > 0 ? `.${issue.path.join('.')}` : '';
  throw new TypeError(`invalid ${what}: ${what}${at}: ${issue.message}`);
}

const bytes = (hexes: readonly string[]): Buffer[] => hexes.map((h) => Buffer.from(h, 'hex'));

/** Checks an inclusion proof against the tip of the tree it claims to be for. */
export function checkInclusionProof(proof: InclusionProof, tip: DirectoryTip): ProofCheck {
  if (proof.tree_size !== tip.size) {
    return { ok: false, reason: `the proof is for size ${proof.tree_size}, the tip has size ${tip.size}` };
  }
  if (proof.leaf_index === tip.size - 1 && proof.record_hash !== tip.head) {
    return { ok: false, reason: `the last record ${proof.record_hash} is not the tip's head ${tip.head}` };
  }
  const [leaf, root] = bytes([proof.leaf_hash, tip.root]);
  return verifyInclusion(leaf!, proof.leaf_index, proof.tree_size, bytes(proof.path), root!);
}

/** Checks that `from` is a prefix of `to` with a consistency proof between their sizes. */
export function checkConsistencyProof(
  proof: ConsistencyProof,
  from: DirectoryTip,
  to: DirectoryTip,
): ProofCheck {
  if (proof.first !== from.size || proof.second !== to.size) {
    return {
      ok: false,
      reason: `the proof is from size ${proof.first} to ${proof.second}, the tips have sizes ${from.size} and ${to.size}`,
    };
  }
  if (from.size === to.size && from.head !== to.head) {
    return { ok: false, reason: `two different heads for size ${from.size}` };
  }
  const [a, b] = bytes([from.root, to.root]);
  return verifyConsistency(proof.first, proof.second, a!, b!, bytes(proof.path));
}
