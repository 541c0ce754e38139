/**
 * Errors of asynchronous calls (docs/protocol.md#asynchronous-calls). Each has the JSON-RPC code the
 * application or the answering node receives; the message says what happened to which request id.
 */
import { CodedError } from '../core/errors.js';
import { ErrorCodes, type JsonRpcErrorCode } from '../core/messages.js';

export type AsyncErrorCode =
  /** `respond` or `_respond` for an id nobody is waiting for (never acknowledged, or forgotten). */
  | 'ERR_ASYNC_UNKNOWN_ID'
  /** The time to live of the request passed before the answer. */
  | 'ERR_ASYNC_EXPIRED'
  /** The request has been answered already (or an answer is being delivered right now). */
  | 'ERR_ASYNC_ALREADY_ANSWERED'
  /** An operator answered a request that was not sent to it. */
  | 'ERR_ASYNC_NOT_RECIPIENT'
  /** A store limit (entries or bytes, per peer or in total) was reached. */
  | 'ERR_ASYNC_FULL'
  /** The request id is already waiting for an asynchronous answer (ids of pending requests are unique). */
  | 'ERR_ASYNC_ID_IN_USE'
  /** Malformed `respond` / `_respond` params. */
  | 'ERR_ASYNC_INVALID'
  /** The caller's node did not confirm an answer (an original node, or its backend refused it). */
  | 'ERR_ASYNC_NOT_CONFIRMED'
  /** `_respond` sent by a local application instead of an eps node. */
  | 'ERR_ASYNC_RESERVED'
  /** A queued request or answer could not reach the other operator within its time to live. */
  | 'ERR_ASYNC_UNDELIVERED'
  /** A repeat of a marked request whose answer was too large for the callee to keep (given only once). */
  | 'ERR_ASYNC_NOT_KEPT'
  /** This instance is standby: another instance of the operator holds the store (try the active one). */
  | 'ERR_ASYNC_STANDBY';

const JSON_RPC_CODE: Record<AsyncErrorCode, JsonRpcErrorCode> = {
  ERR_ASYNC_UNKNOWN_ID: ErrorCodes.notFound,
  ERR_ASYNC_EXPIRED: ErrorCodes.notFound,
  ERR_ASYNC_ALREADY_ANSWERED: ErrorCodes.invalidRequest,
  ERR_ASYNC_NOT_RECIPIENT: ErrorCodes.permissionDenied,
  ERR_ASYNC_FULL: ErrorCodes.unavailable,
  ERR_ASYNC_ID_IN_USE: ErrorCodes.invalidRequest,
  ERR_ASYNC_INVALID: ErrorCodes.invalidParams,
  ERR_ASYNC_NOT_CONFIRMED: ErrorCodes.channelError,
  ERR_ASYNC_RESERVED: ErrorCodes.methodNotFound,
  ERR_ASYNC_UNDELIVERED: ErrorCodes.unavailable,
  ERR_ASYNC_NOT_KEPT: ErrorCodes.channelError,
  ERR_ASYNC_STANDBY: ErrorCodes.unavailable,
};

export class AsyncError extends CodedError<AsyncErrorCode> {
  override readonly name = 'AsyncError';

  /** The JSON-RPC code the application or peer receives. */
  get jsonRpc(): JsonRpcErrorCode {
    return JSON_RPC_CODE[this.code];
  }

  /** As an error response, with the error code in `data` for programs. */
  toResponse(id: string | null): {
    id: string | null;
    error: { code: number; message: string; data: { code: string } };
  } {
    return { id, error: { code: this.jsonRpc, message: this.message, data: { code: this.code } } };
  }
}

/** A new request under the id of one that still waits for its asynchronous answer (either side). */
export function idInUse(id: string): AsyncError {
  return new AsyncError(
    'ERR_ASYNC_ID_IN_USE',
    `request id ${id} is waiting for an asynchronous answer; use a new id for a new request`,
  );
}
