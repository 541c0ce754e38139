/**
 * `created_at` handling [WIRE, docs/protocol.md#record-normalisation]: strict RFC 3339 parsing as Go's
 * `time.Parse(time.RFC3339, …)` does it, and the canonical Go RFC3339Nano rendering that is hashed and emitted.
 * JavaScript `Date` is never used for round-trips (it would lose Go's nanoseconds).
 */
import { formatOffset } from '../core/time.js';
import { RecordError } from './errors.js';

const RFC3339_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;
const MAX_FRACTION_DIGITS = 9;
const NANOS_PER_SECOND = 1_000_000_000n;
const SECONDS_PER_DAY = 86_400;

export interface ParsedCreatedAt {
  /** Go RFC3339Nano rendering: wall clock and offset as given, fraction trimmed, `Z` for a zero offset. */
  canonical: string;
  /** The instant: whole seconds since the Unix epoch (exact in a double for years 0000–9999)… */
  epochSeconds: number;
  /** …and the nanoseconds within that second. */
  nanos: number;
  /** True for Go's zero time (0001-01-01T00:00:00Z), which the structured hash treats as absent. */
  isZero: boolean;
}

/** Parses an RFC 3339 timestamp; throws a schema RecordError (path `created_at`) when Go would reject it. */
export function parseCreatedAt(text: string): ParsedCreatedAt {
  const m = RFC3339_PATTERN.exec(text);
  if (!m) throw invalid('not an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm))');
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  if (month! < 1 || month! > 12) throw invalid('month out of range');
  if (day! < 1 || day! > daysInMonth(year!, month!)) throw invalid('day out of range');
  if (hour! > 23) throw invalid('hour out of range');
  if (minute! > 59) throw invalid('minute out of range');
  if (second! > 59) throw invalid('second out of range');

  const fraction = (m[7] ?? '').slice(0, MAX_FRACTION_DIGITS);
  const nanos = fraction === '' ? 0 : Number(fraction.padEnd(MAX_FRACTION_DIGITS, '0'));
  // Go 1.16 does not range-check the offset fields; it just computes the offset in minutes.
  const offsetMinutes = m[8] ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));

  const wall = text.slice(0, 19);
  const trimmed = fraction.replace(/0+$/, '');
  const canonical = wall + (trimmed ? `.${trimmed}` : '') + formatOffset(offsetMinutes);

  const epochSeconds =
    daysFromCivil(year!, month!, day!) * SECONDS_PER_DAY +
    hour! * 3600 +
    minute! * 60 +
    second! -
    offsetMinutes * 60;
  return { canonical, epochSeconds, nanos, isZero: epochSeconds === GO_ZERO_TIME_SECONDS && nanos === 0 };
}

/** The instant of a timestamp as nanoseconds since the Unix epoch (throws on invalid input). */
export function createdAtNanos(text: string): bigint {
  const { epochSeconds, nanos } = parseCreatedAt(text);
  return BigInt(epochSeconds) * NANOS_PER_SECOND + BigInt(nanos);
}

/** The canonical Go rendering of a timestamp (throws on invalid input). */
export function canonicalCreatedAt(text: string): string {
  return parseCreatedAt(text).canonical;
}

/** Orders two timestamps by instant: negative when `a` is earlier. */
export function compareCreatedAt(a: string, b: string): number {
  const x = parseCreatedAt(a);
  const y = parseCreatedAt(b);
  if (x.epochSeconds !== y.epochSeconds) return x.epochSeconds < y.epochSeconds ? -1 : 1;
  return x.nanos - y.nanos;
}

/** Current local time in canonical form with the local numeric offset (what the signing CLI stamps). */
export function createdAtNow(now: Date = new Date()): string {
  const offsetMinutes = -now.getTimezoneOffset();
  const local = new Date(now.getTime() + offsetMinutes * 60_000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const wall =
    `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
    `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  const ms = local.getUTCMilliseconds();
  const fraction = ms === 0 ? '' : `.${pad(ms, 3).replace(/0+$/, '')}`;
  return wall + fraction + formatOffset(offsetMinutes);
}

function invalid(rule: string): RecordError {
  return new RecordError('schema', rule, { path: 'created_at' });
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const GO_ZERO_TIME_SECONDS = daysFromCivil(1, 1, 1) * SECONDS_PER_DAY;
