/**
 * The wire of asynchronous calls (docs/protocol.md#asynchronous-calls):
 * - a backend acknowledges a request with a result object carrying `_async` (`true` or `{"ttl": s}`);
 * - the callee's application answers later with `respond` at its own gateway, id exactly as received;
 * - the callee's eps carries the answer to the caller's eps on the reserved method `_respond`
 *   (`<caller>._respond(<digest of the id>)`, params `{id, result}` or `{id, error}`), which the caller's
 *   eps confirms with `{"accepted": true}`; an original node has no such method and never confirms;
 * - the caller's eps hands it to its backend as `respond` with the caller's original JSON-RPC id.
 * Normal calls keep the original's ID grammar and wire format.
 */
import { createHash } from 'node:crypto';
import { formatAddress } from '../core/address.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../core/json.js';
import { ErrorCodes, type EpsRequest, type EpsResponse } from '../core/messages.js';
import { AsyncError } from './errors.js';

/** The method a local application calls at its gateway to answer, and the one its backend receives. */
export const RESPOND_METHOD = 'respond';
/** The gateway method reporting the state of asynchronous requests to the own operator. */
export const STATUS_METHOD = '_status';
/** The reserved method between eps nodes that carries an answer (not callable by applications). */
export const ANSWER_METHOD = '_respond';
/** The key of an acknowledgement in a backend's result. */
export const ACK_KEY = '_async';
/** Hex digits of the id digest in an answer's addressed id (the original id may contain `)`). */
const DIGEST_HEX = 32;

/** The time to live an acknowledgement asks for, in seconds; undefined = not an acknowledgement. */
export function acknowledgement(result: JsonObject | null | undefined): { ttlSeconds?: number } | undefined {
  if (!isJsonObject(result)) return undefined;
  const ack = result[ACK_KEY];
  if (ack === true) return {};
  if (!isJsonObject(ack)) return undefined;
  const ttl = ack.ttl;
  return typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0 ? { ttlSeconds: ttl } : {};
}

/** The acknowledgement as the caller sees it: the backend's result with the time to live we keep. */
export function normalisedAck(result: JsonObject, requestId: string, ttlSeconds: number): JsonObject {
  return { ...result, [ACK_KEY]: { ttl: ttlSeconds, request: requestId } };
}

export type Answer = { result: JsonValue } | { error: { code: number; message: string; data?: JsonValue } };

/** The answer in `respond`/`_respond` params: exactly one of `result` and `error`. */
export function parseAnswer(params: JsonObject): Answer {
  const hasResult = 'result' in params;
  const hasError = 'error' in params;
  if (hasResult === hasError)
    throw new AsyncError('ERR_ASYNC_INVALID', 'params must have exactly one of "result" and "error"');
  if (hasResult) return { result: params.result ?? null };
  const error = params.error;
  if (!isJsonObject(error) || !Number.isInteger(error.code) || typeof error.message !== 'string')
    throw new AsyncError('ERR_ASYNC_INVALID', 'params.error must be {"code": integer, "message": string}');
  const out: Answer = { error: { code: error.code as number, message: error.message } };
  if (error.data !== undefined) out.error.data = error.data;
  return out;
}

/** The `_respond` request that carries `answer` for request `id` to operator `caller`. */
export function answerRequest(caller: string, id: string, answer: Answer): EpsRequest {
  const digest = createHash('sha256').update(id).digest('hex').slice(0, DIGEST_HEX);
  return {
    method: `${caller}.${ANSWER_METHOD}`,
    id: formatAddress(caller, ANSWER_METHOD, digest),
    params: { id, ...(answer as JsonObject) },
  };
}

/** The confirmation a caller's eps answers `_respond` with. */
export function confirmation(id: string, duplicate: boolean): EpsResponse {
  return { id, result: { accepted: true, ...(duplicate ? { duplicate: true } : {}) } };
}

export function isConfirmation(response: EpsResponse | null): boolean {
  return response?.result?.accepted === true && !response.error;
}

/** data.code of an answer that asks the sender of a marked request to send it again later. */
export const TRY_LATER_CODE = 'ERR_ASYNC_TRY_LATER';

/** The answer to a marked request that cannot be taken now (a repeat still with the backend, backend down). */
export function tryLater(id: string | null, why: string): EpsResponse {
  return { id, error: { code: ErrorCodes.unavailable, message: why, data: { code: TRY_LATER_CODE } } };
}

/**
 * Whether a peer's answer asks to send the message again later: "try later", or ERR_ASYNC_STANDBY (an
 * instance of the peer that is, or just became, standby: its active instance takes the message later).
 * Never treated as delivered, so the sender keeps the message.
 */
export function isTryLater(response: EpsResponse | null): boolean {
  const data = response?.error?.data;
  return isJsonObject(data) && (data.code === TRY_LATER_CODE || data.code === STANDBY_CODE);
}

/** data.code of ERR_ASYNC_STANDBY (async/errors.ts). */
const STANDBY_CODE = 'ERR_ASYNC_STANDBY';

/**
 * A response to a peer: ERR_ASYNC_STANDBY (the lease was lost while the message was being handled)
 * becomes "try later", which every sender keeps and sends again, to the active instance.
 */
export function forPeer(response: EpsResponse): EpsResponse;
export function forPeer(response: EpsResponse | null): EpsResponse | null;
export function forPeer(response: EpsResponse | null): EpsResponse | null {
  const data = response?.error?.data;
  if (!response?.error || !isJsonObject(data) || data.code !== STANDBY_CODE) return response;
  return tryLater(response.id, response.error.message);
}
