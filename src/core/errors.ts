/**
 * The shape of our error classes: every layer's errors extend `CodedError` with a stable string `code`
 * from a union of that layer (e.g. `'ERR_TOKEN_EXPIRED'`), which callers and tests match instead of the
 * message text; `name` stays the class name, messages stay as they are (many reach peers and logs).
 *
 * The codes read `ERR_<LAYER>_<WHAT>` (e.g. `ERR_H2_HPACK`, `ERR_DATASTORE_LOCK`); the tls layer uses
 * `ERR_CERT_`, because outcome.ts reads a string code starting with `ERR_TLS_` as Node's TLS failure.
 * test/unit/error-codes.test.ts checks every error class of src against this.
 *
 * Some errors carry a number from the wire instead and keep it as their `code`: GrpcError (grpc/status.ts,
 * the gRPC status), MethodError (jsonrpc/dispatcher.ts, the JSON-RPC error code), ConnectionError and
 * StreamError (grpc/h2/errors.ts, the HTTP/2 error code), SdRpcError (directory/api-errors.ts, the SD's
 * JSON-RPC error code) and the SD's SubmitError, StaleAppendError and StoreUnavailableError (sd/errors.ts,
 * the JSON-RPC error code they are answered with). All name their failure kind through outcome.ts like
 * every other error.
 */
export class CodedError<C extends string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The message of anything thrown (`String(e)` for a non-Error), instead of `(e as Error).message`. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
