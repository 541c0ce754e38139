/**
 * The soak's growth decision: a least-squares line through (time, value) samples after a warm-up share; the
 * series "keeps growing" when the fitted slope is above a threshold per minute. One high sample (a GC not yet
 * run, a burst of sockets) moves the fit little, which is why no single sample decides.
 */

export interface Sample {
  /** Minutes since the start. */
  minutes: number;
  value: number;
}

export interface GrowthVerdict {
  /** Fitted slope in value units per minute (NaN with fewer than 2 samples). */
  slopePerMinute: number;
  growing: boolean;
  /** Samples the fit used. */
  used: number;
}

/** Least-squares slope of value over minutes; NaN with fewer than two distinct times. */
export function leastSquaresSlope(samples: readonly Sample[]): number {
  const n = samples.length;
  if (n < 2) return NaN;
  const mx = samples.reduce((s, p) => s + p.minutes, 0) / n;
  const my = samples.reduce((s, p) => s + p.value, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of samples) {
    sxy += (p.minutes - mx) * (p.value - my);
    sxx += (p.minutes - mx) ** 2;
  }
  return sxx === 0 ? NaN : sxy / sxx;
}

/**
 * Fits the samples after the first `warmUpShare` of them (start-up allocations, pools filling) and compares
 * the slope with `thresholdPerMinute`. Too few samples to fit (under 3 after the warm-up) is an error: the
 * soak was too short to decide.
 */
export function growthVerdict(
  samples: readonly Sample[],
  thresholdPerMinute: number,
  warmUpShare = 0.2,
): GrowthVerdict {
  const used = samples.slice(Math.floor(samples.length * warmUpShare));
  if (used.length < 3) throw new Error(`${used.length} samples after the warm-up: too few to fit a slope`);
  const slopePerMinute = leastSquaresSlope(used);
  return { slopePerMinute, growing: slopePerMinute > thresholdPerMinute, used: used.length };
}
