/** The soak's growth decision (bench/faults/slope.ts): a fitted slope with a threshold, never one sample. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { growthVerdict, leastSquaresSlope, type Sample } from '../../bench/faults/slope.js';

const MiB = 1024 * 1024;
const series = (n: number, f: (minutes: number, i: number) => number): Sample[] =>
  Array.from({ length: n }, (_, i) => ({ minutes: i / 6, value: f(i / 6, i) }));

test('the slope of an exact line is its gradient', () => {
  assert.equal(leastSquaresSlope(series(10, (m) => 3 * m + 7)), 3);
  assert.ok(Number.isNaN(leastSquaresSlope([{ minutes: 1, value: 2 }])));
  assert.ok(
    Number.isNaN(
      leastSquaresSlope([
        { minutes: 1, value: 2 },
        { minutes: 1, value: 5 },
      ]),
    ),
  );
});

test('a flat series with a GC sawtooth is not growing', () => {
  const v = growthVerdict(
    series(60, (_, i) => 80 * MiB + (i % 5) * 2 * MiB),
    1 * MiB,
  );
  assert.equal(v.growing, false);
  assert.ok(Math.abs(v.slopePerMinute) < 0.5 * MiB, String(v.slopePerMinute));
});

test('steady growth above the threshold is growing, below it is not', () => {
  assert.equal(
    growthVerdict(
      series(60, (m) => 80 * MiB + 2 * MiB * m),
      1 * MiB,
    ).growing,
    true,
  );
  assert.equal(
    growthVerdict(
      series(60, (m) => 80 * MiB + 0.5 * MiB * m),
      1 * MiB,
    ).growing,
    false,
  );
});

test('one high sample at the end does not decide', () => {
  const samples = series(60, () => 80 * MiB);
  samples[59]!.value = 120 * MiB;
  const v = growthVerdict(samples, 1 * MiB);
  assert.equal(v.growing, false, `slope ${v.slopePerMinute / MiB} MiB/min`);
});

test('the warm-up share is left out of the fit', () => {
  // Start-up growth in the first fifth, flat afterwards.
  const v = growthVerdict(
    series(50, (m, i) => (i < 10 ? 40 * MiB + i * 4 * MiB : 80 * MiB)),
    1 * MiB,
  );
  assert.equal(v.used, 40);
  assert.equal(v.growing, false);
});

test('too few samples to fit is an error, not a verdict', () => {
  assert.throws(
    () =>
      growthVerdict(
        series(2, () => 1),
        1,
      ),
    /too few to fit/,
  );
  assert.throws(
    () =>
      growthVerdict(
        series(3, () => 1),
        1,
        0.5,
      ),
    /too few to fit/,
  );
});
