/** A small closed-loop load generator: N workers send requests back to back for a fixed time. */
import { performance } from 'node:perf_hooks';

export interface LoadResult {
  label: string;
  concurrency: number;
  seconds: number;
  requests: number;
  errors: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  firstError?: string;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runLoad(
  label: string,
  concurrency: number,
  seconds: number,
  once: () => Promise<boolean>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const end = performance.now() + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        if (!(await once())) errors++;
      } catch (e) {
        errors++;
        firstError ??= (e as Error).message;
        continue;
      }
      latencies.push(performance.now() - t0);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const result: LoadResult = {
    label,
    concurrency,
    seconds: elapsed,
    requests: latencies.length,
    errors,
    rps: latencies.length / elapsed,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
  };
  if (firstError) result.firstError = firstError;
  return result;
}

export function formatLoad(r: LoadResult): string {
  return (
    `${r.label.padEnd(34)} c=${String(r.concurrency).padStart(2)}  ${r.rps.toFixed(0).padStart(6)} req/s  ` +
    `p50 ${r.p50ms.toFixed(2).padStart(6)} ms  p99 ${r.p99ms.toFixed(2).padStart(7)} ms  errors ${r.errors}` +
    (r.firstError ? ` (${r.firstError})` : '')
  );
}
