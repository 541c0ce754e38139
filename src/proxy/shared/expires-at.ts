/**
 * `expires_at` of announcements (docs/protocol.md#announcements): RFC 3339 timestamps with an upper-case `T`,
 * `Z` or a ±hh:mm offset and optional fractional seconds; at most 7 days ahead; past values are accepted (the
 * announcement is merely inert); null, missing or "" mean "never expires". Emitted like Go prints a time.Time
 * in JSON: the original offset kept (a zero offset prints as `Z`), fraction without trailing zeros.
 */
import { CodedError } from '../../core/errors.js';

/** Longest accepted lifetime of a timed announcement. */
export const MAX_ANNOUNCEMENT_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
/** Digits of fractional seconds kept (nanoseconds, like Go). */
const MAX_FRACTION_DIGITS = 9;
const NANOS_PER_MS = 1_000_000n;
const MS_PER_MINUTE = 60_000;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

export class ExpiresAtError extends CodedError<'ERR_PROXY_EXPIRES_AT'> {
  constructor(message: string) {
    super('ERR_PROXY_EXPIRES_AT', message);
    this.name = 'ExpiresAtError';
  }
}

/** A parsed expiry: the instant (nanoseconds since the epoch) and its canonical text. */
export interface Expiry {
  readonly text: string;
  readonly epochNanos: bigint;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeap(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

/** Parses an RFC 3339 timestamp (no lifetime check). Throws ExpiresAtError. */
export function parseRfc3339(text: string): Expiry {
  const m = RFC3339.exec(text);
  if (m === null) throw new ExpiresAtError(`'${text}' is not an RFC 3339 timestamp`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fraction = (m[7] ?? '').slice(0, MAX_FRACTION_DIGITS);
  const zone = m[8] ?? 'Z';
  if (month < 1 || month > 12) throw new ExpiresAtError(`month out of range in '${text}'`);
  if (day < 1 || day > daysInMonth(year, month)) throw new ExpiresAtError(`day out of range in '${text}'`);
  if (hour > 23 || minute > 59 || second > 59) throw new ExpiresAtError(`time out of range in '${text}'`);
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) throw new ExpiresAtError(`time zone offset out of range in '${text}'`);
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const epochMs = date.getTime() - offsetMinutes * MS_PER_MINUTE;
  const fractionNanos = BigInt(fraction.padEnd(MAX_FRACTION_DIGITS, '0'));
  const trimmed = fraction.replace(/0+$/, '');
  const canonicalZone = offsetMinutes === 0 ? 'Z' : zone;
  return {
    text: `${text.slice(0, 19)}${trimmed === '' ? '' : '.' + trimmed}${canonicalZone}`,
    epochNanos: BigInt(epochMs) * NANOS_PER_MS + fractionNanos,
  };
}

/**
 * Validates an `expires_at` parameter: null for "never", else a parsed expiry no more than 7 days after
 * `now`. Throws ExpiresAtError with a message suitable for an invalid-params reply.
 */
export function parseExpiresAt(value: unknown, now: number = Date.now()): Expiry | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new ExpiresAtError('expires_at must be an RFC 3339 string');
  const expiry = parseRfc3339(value);
  if (expiry.epochNanos > BigInt(now + MAX_ANNOUNCEMENT_LIFETIME_MS) * NANOS_PER_MS) {
    throw new ExpiresAtError('timed announcements need to expire in 7 days or less');
  }
  return expiry;
}

/** Whether an expiry lies in the past (a null expiry never does). */
export function isExpired(expiry: Expiry | null, now: number = Date.now()): boolean {
  return expiry !== null && expiry.epochNanos < BigInt(now) * NANOS_PER_MS;
}

/** Whether two expiries name the same instant (or are both "never"). */
export function sameExpiry(a: Expiry | null, b: Expiry | null): boolean {
  if (a === null || b === null) return a === b;
  return a.epochNanos === b.epochNanos;
}
