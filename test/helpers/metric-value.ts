/**
 * Reads a metric of a prom-client registry (default: the process's shared one) in a test: the sum of the
 * series whose labels include `labels` (for a histogram, of its `_count` series, i.e. observations).
 */
import type { Registry } from 'prom-client';
import { registry as shared } from '../../src/core/metrics-registry.js';

export async function metricValue(
  name: string,
  labels: Record<string, string> = {},
  registry: Registry = shared,
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric '${name}' in the registry`);
  const { values } = await metric.get();
  const series = values as { labels: Record<string, string | number>; value: number; metricName?: string }[];
  const counts = series.some((v) => v.metricName === `${name}_count`);
  return series
    .filter((v) => !counts || v.metricName === `${name}_count`)
    .filter((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val))
    .reduce((sum, v) => sum + v.value, 0);
}
