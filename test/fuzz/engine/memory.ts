/**
 * The memory bound every harness is held to: replaying many inputs through a target must not leave
 * memory behind (heap and resident set after a full GC), and no single input may allocate more than
 * PER_INPUT_HEAP_LIMIT bytes of live heap while it runs.
 */
import { setFlagsFromString } from 'node:v8';
import { getHeapStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';

const MIB = 1024 * 1024;
/** Heap (with external memory: Buffers) still in use after GC, after vs before the measured passes. */
export const RETAINED_HEAP_LIMIT = 2 * MIB;
/** Resident set growth over the measured passes (after GC; pages V8 keeps count too). */
export const RETAINED_RSS_LIMIT = 8 * MIB;
/**
 * Live heap growth within one input (no GC in between), i.e. what one input may make us hold at once.
 * It includes garbage not yet collected and external Buffer memory: 16 MiB tripped at 16.6 under load.
 */
export const PER_INPUT_HEAP_LIMIT = 32 * MIB;

export interface MemoryReport {
  inputs: number;
  passes: number;
  heapGrowthBytes: number;
  rssGrowthBytes: number;
  /** The largest heap growth observed within one input. */
  maxInputHeapBytes: number;
}

let gcFunction: (() => void) | undefined;

/** global.gc, also when node was started without --expose-gc (the flag can be set at run time). */
export function forceGc(): void {
  if (!gcFunction) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed) gcFunction = exposed;
    else {
      setFlagsFromString('--expose-gc');
      gcFunction = runInNewContext('gc') as () => void;
    }
  }
  // Twice: the first pass may only schedule finalisation of weak references.
  gcFunction();
  gcFunction();
}

/** JS heap in use plus memory held outside it for JS objects (Buffer contents, ArrayBuffers). */
function heapUsed(): number {
  const stats = getHeapStatistics();
  return stats.used_heap_size + stats.external_memory;
}

/**
 * Replays `inputs` twice to warm up (JIT code, lazily built tables, and V8 growing its young generation
 * under allocation pressure, which is up to 2 x 16 MiB of resident memory and not a leak), then `passes`
 * times more, and returns what the measured passes left behind. `run` must swallow expected errors itself.
 */
export function measureRetention(
  inputs: readonly Buffer[],
  run: (input: Buffer) => void,
  passes = 3,
): MemoryReport {
  for (let warmUp = 0; warmUp < 2; warmUp++) for (const input of inputs) run(input);
  forceGc();
  const heapBefore = heapUsed();
  const rssBefore = process.memoryUsage.rss();
  let maxInputHeapBytes = 0;
  for (let pass = 0; pass < passes; pass++) {
    for (const input of inputs) {
      const before = heapUsed();
      run(input);
      const grown = heapUsed() - before;
      if (grown > maxInputHeapBytes) maxInputHeapBytes = grown;
    }
  }
  forceGc();
  return {
    inputs: inputs.length,
    passes,
    heapGrowthBytes: heapUsed() - heapBefore,
    rssGrowthBytes: process.memoryUsage.rss() - rssBefore,
    maxInputHeapBytes,
  };
}

/** Human-readable violations of the bounds (empty when within them). */
export function memoryViolations(report: MemoryReport): string[] {
  const out: string[] = [];
  const mib = (n: number): string => `${(n / MIB).toFixed(2)} MiB`;
  if (report.heapGrowthBytes > RETAINED_HEAP_LIMIT)
    out.push(`retained heap grew ${mib(report.heapGrowthBytes)} (limit ${mib(RETAINED_HEAP_LIMIT)})`);
  if (report.rssGrowthBytes > RETAINED_RSS_LIMIT)
    out.push(`resident set grew ${mib(report.rssGrowthBytes)} (limit ${mib(RETAINED_RSS_LIMIT)})`);
  if (report.maxInputHeapBytes > PER_INPUT_HEAP_LIMIT)
    out.push(`one input held ${mib(report.maxInputHeapBytes)} of heap (limit ${mib(PER_INPUT_HEAP_LIMIT)})`);
  return out;
}
