/**
 * The two gRPC methods of directory transparency [docs/transparency.md#wire], in the messages of
 * proto/eps.proto (Request, Response), so no new message type is needed:
 *
 * - `/EPS/Tip`: Request{method "tip", params {size, head}, clientName} → Response{result {size, head}}:
 *   the caller's tip in, the callee's tip out. Sent once per connection and after each change of the chain.
 * - `/EPS/Records`: Request{method "records", params {from, limit}, clientName} → Response{result
 *   {size, head, records}}: at most `limit` (≤ MAX_PAGE_RECORDS) records of the callee's verified chain
 *   from index `from`, as a JSON array in a string (the records' exact JSON, hashed as they are).
 * - `/EPS/Consistency`: Request{method "consistency", params {first, second}, clientName} → Response{result
 *   {first, second, path}}: the callee's RFC 9162 consistency proof between two sizes of its verified chain
 *   (records/merkle, the same JSON as `_consistencyProof`).
 *
 * Original nodes do not know these paths and answer UNIMPLEMENTED, which means "no tips here".
 */
import type { SignedChangeRecord } from '../core/directory-entry.js';
import { normaliseSignedRecords, parseConsistencyProof, type ConsistencyProof } from '../records/index.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../grpc/codec.js';
import { errorMessage } from '../core/errors.js';
import type { JsonObject } from '../core/json.js';
import { tipFromJson, tipToJson, TipError, type Tip } from './tip.js';

export const TIP_PATH = '/EPS/Tip';
export const RECORDS_PATH = '/EPS/Records';
export const CONSISTENCY_PATH = '/EPS/Consistency';
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

/** A request of one of these methods (no id: unary calls). */
function request(method: string, params: JsonObject, clientName: string): Uint8Array {
  return encodeRequest({ method, params, id: '', clientName });
}

export function encodeTipRequest(tip: Tip, clientName: string): Uint8Array {
  return request('tip', tipToJson(tip), clientName);
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
  return request('records', { from: query.from, limit: query.limit }, clientName);
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

/** The sizes of a consistency question: from `first` records to `second`. */
export interface ConsistencyQuery {
  first: number;
  second: number;
}

export function encodeConsistencyRequest(query: ConsistencyQuery, clientName: string): Uint8Array {
  return request('consistency', { first: query.first, second: query.second }, clientName);
}

/** The parameters are checked by the tree's query (records/merkle answerProofQuery). */
export function decodeConsistencyRequest(payload: Buffer): { params: unknown; clientName: string } {
  const wire = decodeRequest(payload);
  return { params: wire.params, clientName: wire.clientName };
}

export function encodeConsistencyResponse(proof: ConsistencyProof): Uint8Array {
  return encodeResponse({ id: '', result: { ...proof } });
}

export function decodeConsistencyResponse(payload: Buffer): ConsistencyProof {
  try {
    return parseConsistencyProof(decodeResponse(payload).result);
  } catch (e) {
    throw new TipError(errorMessage(e));
  }
}
