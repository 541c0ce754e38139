/**
 * Counters, gauges and histograms for what every call updates. prom-client hashes the label object and
 * validates it on every update, and allocates doing so: at six updates per served call that was a visible
 * part of a call's CPU and garbage. Here a caller resolves a series once (`series(labels)`, bounded label
 * values as everywhere, see metrics-registry.ts) and keeps it; an update is then plain arithmetic. The
 * metrics register on a prom-client registry and are scraped in the same text format as its own.
 */
import type { Metric, Registry } from 'prom-client';

type Labels<L extends string> = Readonly<Record<L, string>>;

interface ExportedValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

interface Options<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
}

/** What prom-client's registry reads of a metric: name, help, type and, on each scrape, `get()`. */
abstract class HotMetric<L extends string, S> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected readonly all = new Map<string, { labels: Labels<L>; series: S }>();

  constructor(private readonly options: Options<L>) {
    this.name = options.name;
    this.help = options.help;
    for (const registry of options.registers) registry.registerMetric(this as unknown as Metric);
  }

  /** The series of one label set; keep it, and update it directly. */
  series(labels: Labels<L>): S {
    const key = JSON.stringify(this.options.labelNames.map((n) => labels[n]));
    let found = this.all.get(key);
    if (found === undefined) {
      found = { labels: { ...labels }, series: this.create() };
      this.all.set(key, found);
    }
    return found.series;
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ExportedValue[] }> {
    const values: ExportedValue[] = [];
    for (const { labels, series } of this.all.values()) this.export(labels, series, values);
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }

  /** Zeroes every series in place (prom-client's `registry.resetMetrics()`): callers keep theirs. */
  reset(): void {
    for (const { series } of this.all.values()) this.zero(series);
  }

  protected abstract create(): S;
  protected abstract zero(series: S): void;
  protected abstract export(labels: Labels<L>, series: S, into: ExportedValue[]): void;
}

export interface CountSeries {
  value: number;
}

abstract class ValueMetric<L extends string> extends HotMetric<L, CountSeries> {
  protected create(): CountSeries {
    return { value: 0 };
  }
  protected zero(series: CountSeries): void {
    series.value = 0;
  }
  protected export(labels: Labels<L>, series: CountSeries, into: ExportedValue[]): void {
    into.push({ value: series.value, labels });
  }
}

/** A counter: `series(labels).value += 1`. */
export class HotCounter<L extends string> extends ValueMetric<L> {
  readonly type = 'counter';
}

/** A gauge: `series(labels).value` set, raised or lowered directly. */
export class HotGauge<L extends string> extends ValueMetric<L> {
  readonly type = 'gauge';
}

export class HistogramSeries {
  sum = 0;
  count = 0;
  /** Observations per bucket (not cumulative); the last is the one above the highest bound. */
  readonly counts: Float64Array;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/** A histogram with fixed bucket bounds: `series(labels).observe(seconds)`. */
export class HotHistogram<L extends string> extends HotMetric<L, HistogramSeries> {
  readonly type = 'histogram';
  private readonly bounds: readonly number[];

  constructor(options: Options<L> & { buckets: readonly number[] }) {
    super(options);
    this.bounds = [...options.buckets].sort((a, b) => a - b);
  }

  protected create(): HistogramSeries {
    return new HistogramSeries(this.bounds);
  }
  protected zero(series: HistogramSeries): void {
    series.counts.fill(0);
    series.sum = 0;
    series.count = 0;
  }

  protected export(labels: Labels<L>, series: HistogramSeries, into: ExportedValue[]): void {
    let cumulative = 0;
    this.bounds.forEach((le, i) => {
      cumulative += series.counts[i]!;
      into.push({ metricName: `${this.name}_bucket`, labels: { le, ...labels }, value: cumulative });
    });
    into.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: series.count });
    into.push({ metricName: `${this.name}_sum`, labels, value: series.sum });
    into.push({ metricName: `${this.name}_count`, labels, value: series.count });
  }
}
