/**
 * Reads a value already counted on a Prometheus registry (the status page shows what the metrics count,
 * without counting it twice): the sum over the label sets that match, or null when no such metric is
 * registered.
 */
import type { Registry } from 'prom-client';

export async function metricSum(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | null> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return null;
  const { values } = await metric.get();
  let sum = 0;
  for (const v of values) {
    const own = v.labels as Record<string, unknown>;
    if (Object.entries(labels).every(([k, want]) => own[k] === want)) sum += v.value;
  }
  return sum;
}
