/**
 * The two gRPC methods of directory transparency [docs/transparency.md#wire], in the messages of
 * proto/eps.proto (Request, Response), so no new message type is needed:
 *
 * - `/EPS/Tip`: Request{method "tip", params {size, head}, clientName} → Response{result {size, head}}:
 *   the caller's tip in, the callee's tip out. Sent once per connection and after each change of the chain.
 * - `/EPS/Records`: Request{method "records", params {from, limit}, clientName} → Response{result
 *   {size, head, records}}: at most `limit` (≤ MAX_PAGE_RECORDS) records of the callee's verified chain
 *   from index `from`, as a JSON array in a string (the records' exact JSON, hashed as they are).
 *
 * Original nodes do not know these paths and answer UNIMPLEMENTED, which means "no tips here".
 */
import type { SignedChangeRecord } from '../core/directory-entry.js';
import { normaliseSignedRecords } from '../records/index.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../grpc/codec.js';
import { errorMessage } from '../core/errors.js';
import { tipFromJson, tipToJson, TipError, type Tip } from './tip.js';

export const TIP_PATH = '/EPS/Tip';
export const RECORDS_PATH = '/EPS/Records';
/** Most records one `/EPS/Records` answer may hold (a page with more is refused as a whole). */
export const MAX_PAGE_RECORDS = 256;

export interface RecordsQuery {
  from: number;
  limit: number;
}

export interface RecordsPage {
  tip: Tip;
  records: SignedChangeRecord[];
}

export function encodeTipRequest(tip: Tip, clientName: string): Uint8Array {
  return encodeRequest({ method: 'tip', params: tipToJson(tip), id: '', clientName });
}

export function decodeTipRequest(payload: Buffer): { tip: Tip; clientName: string } {
  const wire = decodeRequest(payload);
  return { tip: tipFromJson(wire.params), clientName: wire.clientName };
}

export function encodeTipResponse(tip: Tip): Uint8Array {
  return encodeResponse({ id: '', result: tipToJson(tip) });
}

export function decodeTipResponse(payload: Buffer): Tip {
  return tipFromJson(decodeResponse(payload).result);
}

export function encodeRecordsRequest(query: RecordsQuery, clientName: string): Uint8Array {
  return encodeRequest({
    method: 'records',
    params: { from: query.from, limit: query.limit },
    id: '',
    clientName,
  });
}

export function decodeRecordsRequest(payload: Buffer): { query: RecordsQuery; clientName: string } {
  const wire = decodeRequest(payload);
  const { from, limit } = wire.params;
  if (typeof from !== 'number' || !Number.isSafeInteger(from) || from < 0) {
    throw new TipError('records query: `from` must be a non-negative integer');
  }
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
    throw new TipError('records query: `limit` must be a positive integer');
  }
  return { query: { from, limit: Math.min(limit, MAX_PAGE_RECORDS) }, clientName: wire.clientName };
}

export function encodeRecordsResponse(tip: Tip, records: readonly SignedChangeRecord[]): Uint8Array {
  return encodeResponse({ id: '', result: { ...tipToJson(tip), records: JSON.stringify(records) } });
}

/** Reads a page; refuses one with more than `limit` records or records that are not well formed. */
export function decodeRecordsResponse(payload: Buffer, limit: number): RecordsPage {
  const result = decodeResponse(payload).result;
  const tip = tipFromJson(result);
  const text = result?.records;
  if (typeof text !== 'string') throw new TipError('records page without records');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TipError(`records page is not JSON: ${errorMessage(e)}`);
  }
  if (!Array.isArray(raw)) throw new TipError('records page is not a list');
  if (raw.length > limit)
    throw new TipError(`records page holds ${raw.length} records, more than the ${limit} asked for`);
  try {
    return { tip, records: normaliseSignedRecords(raw, { allowProperties: true }) };
  } catch (e) {
    throw new TipError(`records page holds malformed records: ${errorMessage(e)}`);
  }
}
