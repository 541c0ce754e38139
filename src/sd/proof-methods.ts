/**
 * Proofs about the sd's best chain for auditors [docs/protocol.md#sd-api, #directory-tree]: `getTreeTip`
 * {size?}, `getInclusionProof` {hash | index, size?}, `getConsistencyProof` {first, second?}, answered from the
 * directory's tree (kept in step with the best chain at every refresh); bad parameters answer -32602.
 */
import { z } from 'zod';
import type { MethodDefinition } from '../jsonrpc/dispatcher.js';
import { method, MethodError } from '../jsonrpc/dispatcher.js';
import { answerProofQuery, SD_PROOF_METHODS, type ProofQuery } from '../records/index.js';
import type { ServiceDirectory } from './directory.js';
import { INVALID_PARAMS } from './errors.js';

export function proofMethods(directory: ServiceDirectory): Record<string, MethodDefinition> {
  const answer = (query: ProofQuery) =>
    method(z.unknown(), (params) => {
      try {
        return answerProofQuery(directory.tree(), query, params);
      } catch (err) {
        if (err instanceof TypeError || err instanceof RangeError) {
          throw new MethodError(INVALID_PARAMS, `invalid params: ${err.message}`);
        }
        throw err;
      }
    });
  const methods: Record<string, MethodDefinition> = {};
  for (const [query, name] of Object.entries(SD_PROOF_METHODS)) methods[name] = answer(query as ProofQuery);
  return methods;
}
