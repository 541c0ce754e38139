/**
 * Errors of the `api` directory backend and its SD client: the SD could not be reached at any endpoint, the
 * SD answered with a JSON-RPC error, or the records it served were refused (bad schema, failed verification,
 * fork, rollback). Each carries a stable code so callers can branch without parsing messages.
 */
import type { JsonValue } from '../core/json.js';
import { CodedError } from '../core/errors.js';

/** No configured SD endpoint answered (transport failures, timeouts, unreadable responses). */
export class SdUnreachableError extends CodedError<'unreachable'> {
  override readonly name = 'SdUnreachableError';

  constructor(readonly failures: readonly { endpoint: string; reason: string }[]) {
    super(
      'unreachable',
      `service directory unreachable: ${failures.map((f) => `${f.endpoint}: ${f.reason}`).join('; ')}`,
    );
  }
}

/**
 * The SD answered with a JSON-RPC error object. Its `code` is that answer's code (a number from another
 * server, any value), like MethodError's, not a string code.
 */
export class SdRpcError extends Error {
  override readonly name = 'SdRpcError';

  constructor(
    readonly method: string,
    readonly code: number,
    readonly rpcMessage: string,
    readonly data: JsonValue | undefined,
  ) {
    super(
      `JSON-RPC error from the service directory (${method}): ${rpcMessage} (code ${code})` +
        (data === undefined ? '' : `: ${JSON.stringify(data)}`),
    );
  }
}

export type RefreshErrorCode = 'schema' | 'verify' | 'fork' | 'rollback' | 'apply';

/** Records served by the SD were refused; the last verified state stays in use. */
export class DirectoryRefreshError extends CodedError<RefreshErrorCode> {
  override readonly name = 'DirectoryRefreshError';
}
