/**
 * `created_at` stamps for records being signed [docs/operations.md#record-tools]: the current local time with
 * its numeric offset (`Z` for UTC), in Go's RFC3339Nano form. Records of one batch get strictly increasing
 * stamps (one nanosecond apart), so two identical records in one batch never share a hash.
 */
import { formatOffset } from '../core/time.js';

const NANOS_PER_MILLI = 1_000_000;
const MILLIS_PER_MINUTE = 60_000;

/** `count` canonical timestamps starting at `now`, each one nanosecond after the previous one. */
export function signingTimes(count: number, now: Date = new Date()): string[] {
  const offsetMinutes = -now.getTimezoneOffset();
  const local = new Date(now.getTime() + offsetMinutes * MILLIS_PER_MINUTE);
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  const wall =
    `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
    `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  const baseNanos = local.getUTCMilliseconds() * NANOS_PER_MILLI;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    // A batch would need a million records to carry into the next second; stay within the second anyway.
    const nanos = Math.min(baseNanos + i, 999_999_999);
    const fraction = nanos === 0 ? '' : `.${pad(nanos, 9).replace(/0+$/, '')}`;
    out.push(wall + fraction + formatOffset(offsetMinutes));
  }
  return out;
}
