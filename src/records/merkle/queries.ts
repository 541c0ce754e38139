/**
 * The three proof questions an sd and an eps answer about their current tree [docs/protocol.md#directory-tree],
 * with the same parameters on both: `tip` {size?}, `inclusion` {hash | index, size?} and `consistency`
 * {first, second?}. Sizes default to the current size and may not exceed it. Bad parameters throw a TypeError
 * (malformed) or a RangeError (out of range) with a message meant for the caller.
 */
import { z } from 'zod';
import type { JsonObject } from '../../core/json.js';
import type { RecordTree } from './record-tree.js';

export type ProofQuery = 'tip' | 'inclusion' | 'consistency';

/** The sd's JSON-RPC method for each question [docs/protocol.md#sd-api]. */
export const SD_PROOF_METHODS: Readonly<Record<ProofQuery, string>> = {
  tip: 'getTreeTip',
  inclusion: 'getInclusionProof',
  consistency: 'getConsistencyProof',
};

/** The eps's internal method for each question [docs/protocol.md#internal-methods]. */
export const EPS_PROOF_METHODS: Readonly<Record<ProofQuery, string>> = {
  tip: '_treeTip',
  inclusion: '_inclusionProof',
  consistency: '_consistencyProof',
};

const size = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const schemas = {
  tip: z.object({ size: size.optional() }),
  inclusion: z.object({
    hash: z
      .string()
      .regex(/^[a-f0-9]{64}$/, 'must be 64 lower-case hex characters')
      .optional(),
    index: size.optional(),
    size: size.optional(),
  }),
  consistency: z.object({ first: size, second: size.optional() }),
};

function parse<T>(schema: z.ZodType<T>, params: unknown): T {
  const parsed = schema.safeParse(params ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new TypeError(`${issue.path.join('.') || 'params'}: ${issue.message}`);
}

function sizeAtMost(tree: RecordTree, value: number | undefined, what: string): number {
  if (value === undefined) return tree.size;
  if (value > tree.size)
    throw new RangeError(`${what} ${value} is larger than the tree (${tree.size} records)`);
  return value;
}

/** Answers one proof question about `tree`; the result is plain JSON. */
export function answerProofQuery(tree: RecordTree, query: ProofQuery, params: unknown): JsonObject {
  switch (query) {
    case 'tip': {
      const p = parse(schemas.tip, params);
      return { ...tree.tip(sizeAtMost(tree, p.size, 'size')) };
    }
    case 'inclusion': {
      const p = parse(schemas.inclusion, params);
      const treeSize = sizeAtMost(tree, p.size, 'size');
      if ((p.hash === undefined) === (p.index === undefined)) {
        throw new TypeError('give either hash (a record hash) or index (a position), not both or neither');
      }
      const index = p.hash === undefined ? p.index! : tree.indexOf(p.hash);
      if (index === undefined) throw new RangeError(`no record with hash ${p.hash} in the chain`);
      if (index >= treeSize) {
        throw new RangeError(`record ${index} is not in the tree of the first ${treeSize} records`);
      }
      return { ...tree.inclusionProof(index, treeSize) };
    }
    case 'consistency': {
      const p = parse(schemas.consistency, params);
      const second = sizeAtMost(tree, p.second, 'second');
      if (p.first > second) throw new RangeError(`first ${p.first} is larger than second ${second}`);
      return { ...tree.consistencyProof(p.first, second) };
    }
  }
}
