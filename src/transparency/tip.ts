/**
 * A directory tip as peers exchange it [docs/transparency.md]: the number of records in a verified chain,
 * the hash of its last record and the Merkle root over its records (what `eps sd audit` compares). A tip is a claim, never evidence: it only tells us whom to ask for
 * records (which are then verified like the SD's). `relate` places a peer's tip against our chain.
 */
import type { SignedChangeRecord } from '../core/directory-entry.js';
import type { JsonObject } from '../core/json.js';
import { CodedError } from '../core/errors.js';

export interface Tip {
  /** Records in the chain. */
  size: number;
  /** Hash of the last record ("" for an empty chain). */
  head: string;
  /** RFC 9162 tree hash of the records (records/merkle), hex; optional on the wire. */
  root?: string;
}

/** Largest chain size a tip may claim (a bound on what we would ever ask a peer for). */
export const MAX_TIP_SIZE = 100_000_000;

const HASH = /^[0-9a-f]{64}$/;

export class TipError extends CodedError<'ERR_TRANSPARENCY_TIP'> {
  override readonly name = 'TipError';

  constructor(message: string) {
    super('ERR_TRANSPARENCY_TIP', message);
  }
}

export function tipOf(chain: readonly SignedChangeRecord[]): Tip {
  return { size: chain.length, head: chain.at(-1)?.hash ?? '' };
}

export function tipToJson(tip: Tip): JsonObject {
  return tip.root === undefined
    ? { size: tip.size, head: tip.head }
    : { size: tip.size, head: tip.head, root: tip.root };
}

/** Reads a tip from a peer's message; throws TipError on anything malformed. */
export function tipFromJson(value: unknown): Tip {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TipError('tip is not an object');
  }
  const { size, head, root } = value as Record<string, unknown>;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || size > MAX_TIP_SIZE) {
    throw new TipError(`tip size must be an integer from 0 to ${MAX_TIP_SIZE}`);
  }
  if (typeof head !== 'string' || (size === 0 ? head !== '' : !HASH.test(head))) {
    throw new TipError('tip head must be 64 lower-case hex characters ("" for an empty chain)');
  }
  if (root === undefined) return { size, head };
  if (typeof root !== 'string' || !HASH.test(root))
    throw new TipError('tip root must be 64 lower-case hex characters');
  return { size, head, root };
}

/** For log lines: `size/head` with a shortened head. */
export function formatTip(tip: Tip): string {
  return `${tip.size}/${tip.head.slice(0, 16) || '-'}`;
}

export function sameTip(a: Tip, b: Tip): boolean {
  return a.size === b.size && a.head === b.head;
}

/**
 * - `same`: the peer is where we are;
 * - `behind`: the peer's head is a record of our chain at its size (it may heal from us, nothing to do here);
 * - `ahead`: the peer claims more records than we have (ask it for the ones after our head);
 * - `diverged`: the peer's head is not our record at its size: a fork, or a lie (its branch decides).
 */
export type TipRelation = 'same' | 'behind' | 'ahead' | 'diverged';

export function relate(chain: readonly SignedChangeRecord[], theirs: Tip): TipRelation {
  if (theirs.size > chain.length) return 'ahead';
  const ours = theirs.size === 0 ? '' : chain[theirs.size - 1]!.hash;
  if (ours !== theirs.head) return 'diverged';
  return theirs.size === chain.length ? 'same' : 'behind';
}
