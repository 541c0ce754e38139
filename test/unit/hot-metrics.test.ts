import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { HotCounter, HotGauge, HotHistogram } from '../../src/core/hot-metrics.js';

// The same updates through prom-client's own metrics and ours must scrape to the same text.
test('hot counters, gauges and histograms scrape exactly like prom-client metrics', async () => {
  const theirs = new Registry();
  const ours = new Registry();
  const buckets = [0.001, 0.01, 0.1, 1];
  const c1 = new Counter({ name: 'x_total', help: 'h', labelNames: ['a', 'b'], registers: [theirs] });
  const c2 = new HotCounter({ name: 'x_total', help: 'h', labelNames: ['a', 'b'], registers: [ours] });
  const g1 = new Gauge({ name: 'y', help: 'g "quoted" \\ help', labelNames: ['a'], registers: [theirs] });
  const g2 = new HotGauge({ name: 'y', help: 'g "quoted" \\ help', labelNames: ['a'], registers: [ours] });
  const h1 = new Histogram({ name: 'z_seconds', help: 'd', labelNames: ['a'], buckets, registers: [theirs] });
  const h2 = new HotHistogram({
    name: 'z_seconds',
    help: 'd',
    labelNames: ['a'],
    buckets,
    registers: [ours],
  });

  const labelSets = [
    { a: 'one', b: 'x' },
    { a: 'two "quoted"\n', b: 'y' },
  ];
  for (const [i, labels] of labelSets.entries()) {
    for (let n = 0; n <= i + 2; n++) {
      c1.inc(labels);
      c2.series(labels).value++;
    }
  }
  g1.inc({ a: 'p' }, 3);
  g1.dec({ a: 'p' });
  const gauge = g2.series({ a: 'p' });
  gauge.value += 3;
  gauge.value--;
  for (const v of [0, 0.001, 0.0011, 0.05, 0.5, 2, 30]) {
    h1.observe({ a: 'q' }, v);
    h2.series({ a: 'q' }).observe(v);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.match(await ours.metrics(), /z_seconds_bucket\{le="0.001",a="q"\} 2\n/);

  ours.resetMetrics();
  theirs.resetMetrics();
  assert.match(await ours.metrics(), /x_total\{a="one",b="x"\} 0\n/);
  c2.series({ a: 'one', b: 'x' }).value++;
  assert.match(await ours.metrics(), /x_total\{a="one",b="x"\} 1\n/, 'a kept series counts on after a reset');
});

test('one series per label set, whatever the order the labels were given in', () => {
  const counter = new HotCounter({ name: 'w_total', help: 'h', labelNames: ['a', 'b'], registers: [] });
  assert.equal(counter.series({ a: '1', b: '2' }), counter.series({ b: '2', a: '1' }));
  assert.notEqual(counter.series({ a: '1\u0000', b: '2' }), counter.series({ a: '1', b: '\u00002' }));
});
