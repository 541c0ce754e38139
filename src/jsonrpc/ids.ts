/**
 * JSON-RPC id normalisation at the gateway [WIRE, docs/protocol.md#local-ids]: integers become `n:N`, strings
 * that look like that get their `n` run doubled, a missing id becomes 32 random hex characters.
 */
import { randomBytes } from 'node:crypto';

const N_PREFIXED = /^(n+):(-?\d{1,32})$/;

export type JsonRpcId = string | number;

export function normaliseId(id: JsonRpcId | null | undefined): string {
  if (id === undefined || id === null || id === '') return randomBytes(16).toString('hex');
  if (typeof id === 'number') return `n:${id}`;
  const m = N_PREFIXED.exec(id);
  if (m) return `${m[1]}${m[1]}:${m[2]}`;
  return id;
}

export function denormaliseId(id: string): JsonRpcId {
  const m = N_PREFIXED.exec(id);
  if (!m) return id;
  const run = m[1]!.length;
  if (run === 1) {
    const n = BigInt(m[2]!);
    if (n >= -(2n ** 63n) && n < 2n ** 63n) {
      const num = Number(n);
      // Only numbers that round-trip exactly are returned as numbers.
      if (Number.isSafeInteger(num)) return num;
    }
    return id;
  }
  if (run % 2 === 0) return `${'n'.repeat(run / 2)}:${m[2]}`;
  return id;
}
