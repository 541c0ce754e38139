/**
 * `eps sd verify-proof` [docs/operations.md#proofs]: checks an inclusion or a consistency proof offline
 * against tips, all given as files or inline JSON. With a record, also checks that the proof's leaf is
 * that record.
 */
import { readFileSync } from 'node:fs';
import type { JsonValue } from '../core/json.js';
import { errorMessage } from '../core/errors.js';
import {
  checkConsistencyProof,
  checkInclusionProof,
  normaliseSignedRecord,
  parseConsistencyProof,
  parseDirectoryTip,
  parseInclusionProof,
  recordLeafHash,
  RecordError,
  type ProofCheck,
} from '../records/index.js';
import { RecordToolError } from './errors.js';

/** Bytes read from one proof, tip or record file. */
const MAX_INPUT_BYTES = 1024 * 1024;

/** Reads `arg` as inline JSON (starting with `{`) or as the path of a JSON file. */
export function readJsonArgument(arg: string, what: string): JsonValue {
  let text = arg;
  if (!arg.trimStart().startsWith('{')) {
    try {
      const data = readFileSync(arg);
      if (data.length > MAX_INPUT_BYTES) throw new Error(`larger than ${MAX_INPUT_BYTES} bytes`);
      text = data.toString('utf8');
    } catch (err) {
      throw new RecordToolError('input', `cannot read the ${what} ${arg}: ${errorMessage(err)}`);
    }
  }
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new RecordToolError('input', `the ${what} is not JSON: ${errorMessage(err)}`);
  }
}

function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof TypeError || err instanceof RecordError) {
      throw new RecordToolError('input', err.message);
    }
    throw err;
  }
}

export interface VerifyProofResult {
  check: ProofCheck;
  /** What was proven, in words (when the check passed). */
  summary: string;
}

/**
 * Verifies `proof` (inclusion: {leaf_index, ...}; consistency: {first, ...}) against `tips` (one for an
 * inclusion proof, two, older first, for a consistency proof). Malformed input throws RecordToolError.
 */
export function verifyProofArguments(
  proofArg: string,
  tipArgs: readonly string[],
  recordArg?: string,
): VerifyProofResult {
  const raw = readJsonArgument(proofArg, 'proof');
  const tips = tipArgs.map((t, i) =>
    parsed(() => parseDirectoryTip(readJsonArgument(t, 'tip'), `tip ${i + 1}`)),
  );
  const isInclusion = typeof raw === 'object' && raw !== null && 'leaf_index' in raw;
  if (isInclusion) {
    if (tips.length !== 1)
      throw new RecordToolError('input', 'an inclusion proof is checked against one tip');
    const proof = parsed(() => parseInclusionProof(raw));
    if (recordArg !== undefined) {
      const record = parsed(() =>
        normaliseSignedRecord(readJsonArgument(recordArg, 'record'), undefined, { allowProperties: true }),
      );
      if (record.hash !== proof.record_hash || recordLeafHash(record).toString('hex') !== proof.leaf_hash) {
        return { check: { ok: false, reason: `the proof is not about record ${record.hash}` }, summary: '' };
      }
    }
    const tip = tips[0]!;
    return {
      check: checkInclusionProof(proof, tip),
      summary: `record ${proof.record_hash} is record ${proof.leaf_index} of the ${tip.size} records with root ${tip.root}`,
    };
  }
  if (tips.length !== 2) {
    throw new RecordToolError('input', 'a consistency proof is checked against two tips (the smaller first)');
  }
  const proof = parsed(() => parseConsistencyProof(raw));
  const [from, to] = [tips[0]!, tips[1]!];
  return {
    check: checkConsistencyProof(proof, from, to),
    summary: `the ${from.size} records with root ${from.root} are a prefix of the ${to.size} records with root ${to.root}`,
  };
}
