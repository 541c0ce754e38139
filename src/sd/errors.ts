/**
 * Errors of the service directory server. A SubmitError names the rejected record (index in the submitted
 * list, hash) and the rule it broke; on the wire it keeps the original's code -32603 (append failures) or
 * -32602 (schema failures), with a message a person can act on instead of "internal error".
 */
import type { JsonObject } from '../core/json.js';
import { ErrorCodes } from '../core/messages.js';
import type { VerifyFailureCode } from '../records/index.js';

export const INTERNAL_ERROR = ErrorCodes.internal;
export const INVALID_PARAMS = ErrorCodes.invalidParams;
export const NOT_FOUND = ErrorCodes.notFound;
const SHORT_HASH_CHARS = 12;

/** Rule names for the verification failure codes of the records library. */
const RULES: Record<VerifyFailureCode, string> = {
  unsigned: 'unsigned record',
  hash: 'invalid hash value',
  certificate: 'invalid signing certificate',
  'not-admin': 'you cannot append: signer is not an sd-admin',
  pin: 'you cannot append: signing key is not the pinned one',
  chain: 'you cannot append: certificate not issued by a trusted CA',
  expired: 'you cannot append: certificate expired',
  signature: 'invalid signature',
  parent: 'stale append',
};

export type SubmitRule = VerifyFailureCode | 'replayed' | 'broken-chain' | 'outdated-reset' | 'superseded';

const EXTRA_RULES: Record<Exclude<SubmitRule, VerifyFailureCode>, string> = {
  replayed: 'replayed record',
  'broken-chain': 'records do not form a chain',
  'outdated-reset': 'outdated reset',
  superseded: 'superseded',
};

export function ruleName(rule: SubmitRule): string {
  return rule in RULES ? RULES[rule as VerifyFailureCode] : EXTRA_RULES[rule as keyof typeof EXTRA_RULES];
}

export function shortHash(hash: string): string {
  return hash.length > SHORT_HASH_CHARS ? `${hash.slice(0, SHORT_HASH_CHARS)}…` : hash || '(none)';
}

/** A rejected submission; nothing of it was stored (unless `rule` is `superseded`). */
export class SubmitError extends Error {
  override readonly name = 'SubmitError';
  readonly code = INTERNAL_ERROR;

  constructor(
    readonly index: number,
    readonly hash: string,
    readonly rule: SubmitRule,
    readonly reason: string,
  ) {
    super(`record ${index} (hash ${shortHash(hash)}): ${ruleName(rule)}: ${reason}`);
  }

  get data(): JsonObject {
    return { index: this.index, hash: this.hash, rule: this.rule, reason: this.reason };
  }
}

/** The store moved on twice while a submission was being written. */
export class StaleAppendError extends Error {
  override readonly name = 'StaleAppendError';
  readonly code = INTERNAL_ERROR;

  constructor() {
    super('stale append, please try again: other records were stored at the same time');
  }
}

/** The datastore could not be read or written. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  readonly code = INTERNAL_ERROR;

  constructor(cause: Error) {
    super(`datastore error: ${cause.message}`);
  }
}
