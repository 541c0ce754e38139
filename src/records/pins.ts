/**
 * Signing-key pinning [docs/protocol.md#record-verification]: the last `signing` fingerprint published in a
 * `certificates` record for an operator name pins the certificate that operator may sign with.
 */
import type { SignedChangeRecord } from '../core/directory-entry.js';
import { isJsonObject } from '../core/json.js';
import { normaliseSectionData } from './sections.js';

export const SIGNING_KEY_USAGE = 'signing';

/**
 * The fingerprint a `certificates` record pins for its operator, or undefined when it holds none (or is not a
 * certificates record, or does not normalise — such records are skipped, as in the original).
 */
export function pinnedBy(record: SignedChangeRecord): string | undefined {
  if (record.record.section !== 'certificates') return undefined;
  let data;
  try {
    data = normaliseSectionData('certificates', record.record.data);
  } catch {
    return undefined;
  }
  let pin: string | undefined;
  for (const item of data) {
    if (isJsonObject(item) && item.key_usage === SIGNING_KEY_USAGE && typeof item.fingerprint === 'string') {
      pin = item.fingerprint;
    }
  }
  return pin;
}

/** The pin for signer `name` given the records before the one being verified (a full scan). */
export function pinFromRecords(prior: readonly SignedChangeRecord[], name: string): string | undefined {
  let pin: string | undefined;
  for (const record of prior) {
    if (record.record.name !== name) continue;
    const candidate = pinnedBy(record);
    if (candidate !== undefined) pin = candidate;
  }
  return pin;
}
