/**
 * Signed change records as datastore entries [WIRE, docs/protocol.md#datastore]: type 1, a
 * random 16-byte id, data = compact JSON of the normalised record in Go's field order with Go's HTML-safe
 * escaping. Reading accepts what the original and this implementation write and normalises it again (the
 * original trusts its store blindly; a record that does not normalise is reported, not served).
 */
import type { SignedChangeRecord } from '../core/directory-entry.js';
import type { DataEntry } from '../datastore/datastore.js';
import { newEntryId, SIGNED_RECORD_ENTRY_TYPE } from '../datastore/entry-codec.js';
import { encodeJson } from '../jsonrpc/write.js';
import { normaliseSignedRecord } from '../records/index.js';
import { errorMessage } from '../core/errors.js';

export function recordToEntry(record: SignedChangeRecord): DataEntry {
  return { type: SIGNED_RECORD_ENTRY_TYPE, id: newEntryId(), data: Buffer.from(encodeJson(record), 'utf8') };
}

export type DecodedEntry = { ok: true; record: SignedChangeRecord } | { ok: false; reason: string };

/** Never throws: a foreign or broken entry yields a reason instead. */
export function entryToRecord(entry: DataEntry): DecodedEntry {
  if (entry.type !== SIGNED_RECORD_ENTRY_TYPE) {
    return { ok: false, reason: `unknown entry type ${entry.type}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(entry.data.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `entry is not JSON: ${errorMessage(err)}` };
  }
  try {
    return { ok: true, record: normaliseSignedRecord(parsed, undefined, { allowProperties: true }) };
  } catch (err) {
    return { ok: false, reason: `entry is not a valid signed record: ${errorMessage(err)}` };
  }
}
