/**
 * The header fields that make a retry of a call lost with its connection safe [docs/protocol.md#replay-memory]:
 * every `/EPS/Call` of our client carries `eps-call-token`, our server's answers carry `eps-instance`, and a
 * retry of a call whose connection was lost before any answer byte carries `eps-retry: <instance>;<age ms>`.
 * Their values come from peers and are parsed strictly here: anything else counts as absent.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

export const CALL_TOKEN_HEADER = 'eps-call-token';
export const INSTANCE_HEADER = 'eps-instance';
export const RETRY_HEADER = 'eps-retry';

/** Random bytes of a token prefix and of an instance id: 128 bits, 22 characters of base64url. */
const ID_BYTES = 16;
/** Longest token a peer may send (ours: 22 characters and a base-36 counter, at most 33). */
export const MAX_TOKEN_CHARS = 64;
/** Instance ids a peer may send: at least 96 bits in base64url, at most 64 characters (ours: 22). */
export const MIN_INSTANCE_CHARS = 16;
export const MAX_INSTANCE_CHARS = 64;
/** Digits of the age in `eps-retry` (at most about 11 days; a real retry's age is seconds). */
const MAX_AGE_DIGITS = 9;

/** 128 random bits as 22 characters of base64url. */
export function randomId(): string {
  return randomBytes(ID_BYTES).toString('base64url');
}

/**
 * The tokens of one process's calls: a random prefix (128 bits, drawn once) and a counter, so a token costs
 * a string concatenation, and tokens of a restarted caller never repeat those of the process before.
 */
export class CallTokens {
  private readonly prefix = randomId();
  private count = 0;

  next(): string {
    return this.prefix + (this.count++).toString(36);
  }
}

/** 1 to `max` characters of base64url (A-Z a-z 0-9 - _). */
function base64url(value: string, min: number, max: number): boolean {
  if (value.length < min || value.length > max) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const ok =
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2d ||
      c === 0x5f;
    if (!ok) return false;
  }
  return true;
}

export function validToken(value: string): boolean {
  return base64url(value, 1, MAX_TOKEN_CHARS);
}

export function validInstance(value: string): boolean {
  return base64url(value, MIN_INSTANCE_CHARS, MAX_INSTANCE_CHARS);
}

/** What a retry claims: the instance that the original's connection showed, and the original's age. */
export interface RetryClaim {
  readonly instance: string;
  readonly ageMs: number;
}

/** `eps-retry`'s value, or undefined when it is malformed (not exactly `<instance>;<digits>`). */
export function parseRetry(value: string): RetryClaim | undefined {
  if (value.length > MAX_INSTANCE_CHARS + 1 + MAX_AGE_DIGITS) return undefined;
  const semi = value.indexOf(';');
  if (semi < 0) return undefined;
  const instance = value.slice(0, semi);
  const age = value.slice(semi + 1);
  if (!validInstance(instance) || age.length === 0 || age.length > MAX_AGE_DIGITS) return undefined;
  for (let i = 0; i < age.length; i++) {
    const c = age.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  return { instance, ageMs: Number(age) };
}

/** `eps-retry`'s value; the age is rounded up (an over-estimate is safe, an under-estimate is not). */
export function retryValue(instance: string, ageMs: number): string {
  return `${instance};${Math.max(0, Math.ceil(ageMs))}`;
}

/**
 * What makes a unary call safe to retry after its connection was lost: the same token on every attempt,
 * and on a retry the instance of the server that the original went to (grpc/client.ts).
 */
export interface CallMark {
  /** `eps-call-token`: the same on every attempt of the call. */
  readonly token: string;
  /** performance.now() (monotonic) when the first attempt's headers were built, before it was written. */
  firstSentAt?: number;
  /** Set for a retry of an attempt lost with its connection: `eps-retry` names this instance. */
  retryOf?: string;
}

/** Appends the header fields of `mark` to an attempt's `fields`; the first attempt starts its age. */
export function markFields(mark: CallMark, fields: [string, string][]): void {
  const now = performance.now();
  mark.firstSentAt ??= now;
  fields.push([CALL_TOKEN_HEADER, mark.token]);
  if (mark.retryOf !== undefined)
    fields.push([RETRY_HEADER, retryValue(mark.retryOf, now - mark.firstSentAt)]);
}
