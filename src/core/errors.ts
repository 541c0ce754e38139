/**
 * The shape of our error classes: every layer's errors extend `CodedError` with a stable string `code`
 * from a union of that layer (e.g. `'ERR_TOKEN_EXPIRED'`), which callers and tests match instead of the
 * message text; `name` stays the class name, messages stay as they are (many reach peers and logs).
 *
 * Two errors carry a number on the wire instead and keep it as their `code`: GrpcError (grpc/status.ts,
 * the gRPC status) and MethodError (jsonrpc/dispatcher.ts, the JSON-RPC error code). Both name their
 * failure kind through outcome.ts like every other error.
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
