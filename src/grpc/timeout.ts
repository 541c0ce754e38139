/**
 * The `grpc-timeout` request header (gRPC over HTTP/2, "Requests"): at most 8 ASCII digits and one unit,
 * H (hours), M (minutes), S (seconds), m (milliseconds), u (microseconds) or n (nanoseconds).
 */

const MAX_VALUE = 99_999_999;
const UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};
const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
/** Coarser units tried in order when milliseconds need more than 8 digits. */
const COARSER: readonly [string, number][] = [
  ['S', 1000],
  ['M', 60_000],
  ['H', 3_600_000],
];

/** The timeout in milliseconds (fractions for u and n), or undefined for a missing or malformed value. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = TIMEOUT.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/**
 * The header value for a timeout of `ms`: whole milliseconds rounded up, at least 1 (a call is only sent
 * with time left), in the coarsest unit needed to fit 8 digits, rounding up again there. Milliseconds are
 * kept whenever they fit (up to about 27 hours), as every peer expects them today.
 */
export function encodeGrpcTimeout(ms: number): string {
  const millis = Math.max(1, Math.ceil(ms));
  if (millis <= MAX_VALUE) return `${millis}m`;
  for (const [unit, factor] of COARSER) {
    const n = Math.ceil(millis / factor);
    if (n <= MAX_VALUE) return `${n}${unit}`;
  }
  return `${MAX_VALUE}H`;
}
