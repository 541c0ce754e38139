/** Property checks shared by the harnesses: typed errors only, and bounds that must hold. */
import { ErrorCode } from '../../../src/grpc/h2/codes.js';
import { ConnectionError } from '../../../src/grpc/h2/errors.js';
import { CodedError } from '../../../src/core/errors.js';
import { FuzzFinding } from '../engine/types.js';

type ErrorClass = abstract new (...args: never[]) => Error;

const H2_ERROR_CODES = new Set<number>(Object.values(ErrorCode));

/**
 * Runs `body`; an error escaping it must be one of `allowed` and typed: a CodedError with a non-empty
 * string code, or a ConnectionError with one of our HTTP/2 error codes. Anything else (TypeError,
 * RangeError, a plain Error) is rethrown as is, so the finding names the real failure. Returns the error.
 */
export function onlyTypedErrors(body: () => void, allowed: readonly ErrorClass[]): Error | undefined {
  try {
    body();
    return undefined;
  } catch (e) {
    if (!allowed.some((cls) => e instanceof cls)) throw e;
    if (e instanceof CodedError && (typeof e.code !== 'string' || e.code.length === 0))
      throw new FuzzFinding(`${e.name} without a code: ${e.message}`);
    if (e instanceof ConnectionError && !H2_ERROR_CODES.has(e.code))
      throw new FuzzFinding(`ConnectionError with unknown code ${e.code}: ${e.message}`);
    return e as Error;
  }
}

export function bound(what: string, value: number, limit: number): void {
  if (!(value <= limit)) throw new FuzzFinding(`${what}: ${value} above ${limit}`);
}

export function same(what: string, actual: unknown, expected: unknown): void {
  // JSON.stringify(undefined) is undefined: String() keeps the message readable for absent values.
  const a = String(JSON.stringify(actual));
  const b = String(JSON.stringify(expected));
  if (a !== b) throw new FuzzFinding(`${what} differ: ${a.slice(0, 200)} vs ${b.slice(0, 200)}`);
}

/** `what` states the property that must hold; the finding reads "expected: <what>". */
export function check(what: string, ok: boolean): void {
  if (!ok) throw new FuzzFinding(`expected: ${what}`);
}
