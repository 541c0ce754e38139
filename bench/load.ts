/** A small closed-loop load generator: N workers send requests back to back for a fixed time. */
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { errorMessage } from '../src/core/errors.js';

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
  /** CPU time per request in µs for each process the CPU sampler reports on (if one was given). */
  cpuUsPerRequest?: number[];
}

/** Cumulative CPU time in ms of some processes (same order on every call). */
export type CpuSampler = () => number[];

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Samples {
  latencies: number[];
  errors: number;
  elapsed: number;
  firstError?: string;
  cpuMs?: number[];
}

export async function runLoad(
  label: string,
  concurrency: number,
  seconds: number,
  once: () => Promise<boolean>,
): Promise<LoadResult> {
  return summarise(label, concurrency, await sample(concurrency, seconds, once));
}

/**
 * How long each call is run before it is measured. A process just started runs its code unoptimised for a
 * while: at c=1 (a few thousand calls a second) one second of warm-up left the remote path's functions
 * still being compiled, and the measured remote/local ratio moved from 0.34 to 0.45 with five (same build,
 * same machine). Benchmarks describe a server that has been serving for a while, so they warm up longer.
 */
export const WARM_UP_SECONDS = 5;

/** Runs `once` at `concurrency` for WARM_UP_SECONDS without keeping the figures. */
export async function warmUp(concurrency: number, once: () => Promise<boolean>): Promise<void> {
  await runLoad('warm-up', concurrency, WARM_UP_SECONDS, once);
}

/**
 * Measures two calls in alternating slices (A, B, A, B, ...) adding up to `seconds` each, so that slow
 * drifts of a shared machine's load hit both alike and their ratio is meaningful.
 */
export async function compareLoads(
  concurrency: number,
  seconds: number,
  a: { label: string; once: () => Promise<boolean> },
  b: { label: string; once: () => Promise<boolean> },
  slices = 5,
  cpu?: CpuSampler,
): Promise<[LoadResult, LoadResult]> {
  const sa: Samples = { latencies: [], errors: 0, elapsed: 0 };
  const sb: Samples = { latencies: [], errors: 0, elapsed: 0 };
  for (let i = 0; i < slices; i++) {
    merge(sa, await sample(concurrency, seconds / slices, a.once, cpu));
    merge(sb, await sample(concurrency, seconds / slices, b.once, cpu));
  }
  return [summarise(a.label, concurrency, sa), summarise(b.label, concurrency, sb)];
}

function merge(into: Samples, from: Samples): void {
  into.latencies.push(...from.latencies);
  into.errors += from.errors;
  into.elapsed += from.elapsed;
  into.firstError ??= from.firstError;
  if (from.cpuMs) into.cpuMs = from.cpuMs.map((ms, i) => ms + (into.cpuMs?.[i] ?? 0));
}

async function sample(
  concurrency: number,
  seconds: number,
  once: () => Promise<boolean>,
  cpu?: CpuSampler,
): Promise<Samples> {
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
        firstError ??= errorMessage(e);
        continue;
      }
      latencies.push(performance.now() - t0);
    }
  };
  const cpuBefore = cpu?.();
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const samples: Samples = { latencies, errors, elapsed: (performance.now() - started) / 1000 };
  if (cpu && cpuBefore) samples.cpuMs = cpu().map((ms, i) => ms - cpuBefore[i]!);
  if (firstError) samples.firstError = firstError;
  return samples;
}

function summarise(label: string, concurrency: number, s: Samples): LoadResult {
  const latencies = [...s.latencies].sort((x, y) => x - y);
  const result: LoadResult = {
    label,
    concurrency,
    seconds: s.elapsed,
    requests: latencies.length,
    errors: s.errors,
    rps: latencies.length / s.elapsed,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
  };
  if (s.firstError) result.firstError = s.firstError;
  if (s.cpuMs && latencies.length > 0)
    result.cpuUsPerRequest = s.cpuMs.map((ms) => (ms * 1000) / latencies.length);
  return result;
}

export function formatLoad(r: LoadResult): string {
  return (
    `${r.label.padEnd(34)} c=${String(r.concurrency).padStart(2)}  ${r.rps.toFixed(0).padStart(6)} req/s  ` +
    `p50 ${r.p50ms.toFixed(2).padStart(6)} ms  p99 ${r.p99ms.toFixed(2).padStart(7)} ms  errors ${r.errors}` +
    (r.firstError ? ` (${r.firstError})` : '')
  );
}

/** CPU time (user + system, ms) of this process and of child processes by pid, from /proc (Linux). */
export function processCpu(pids: number[]): CpuSampler | undefined {
  if (!existsSync('/proc/self/stat')) return undefined;
  const ticks = (pid: number): number => {
    // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks (100 Hz).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  };
  return () => {
    const own = process.cpuUsage();
    return [(own.user + own.system) / 1000, ...pids.map(ticks)];
  };
}
