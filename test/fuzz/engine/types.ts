/** What a fuzz target is to the engine (test/fuzz/engine/engine.ts) and what a run reports. */
import type { Rng } from './rng.js';

export interface FuzzTarget {
  /** Short name: the corpus folder (fuzz/corpus/<name>/) and the `npm run fuzz -- <name>` argument. */
  readonly name: string;
  /** Inputs longer than this are cut (the parser's own limit, plus a little, so its edge is reached). */
  readonly maxInputBytes: number;
  /** Path parts of the source under test: only coverage of these scripts guides the fuzzer. */
  readonly sources: readonly string[];
  /** Tokens spliced into inputs by the mutator (field values, magic numbers, JSON keys). */
  readonly dictionary?: readonly Buffer[];
  /** Valid inputs built in code (the kept corpus starts from these). May be async (e.g. a real TLS hello). */
  seeds(): Promise<Buffer[]> | Buffer[];
  /** Structure-aware new inputs (fast-check arbitraries), mixed in with the byte mutations. */
  generate?(rng: Rng, count: number): Buffer[];
  /**
   * Runs one input. Throws FuzzFinding (or anything else) when a property fails: an untyped error escaped,
   * a bound was exceeded, a differential check disagreed. Expected, typed refusals are caught inside.
   */
  run(input: Buffer): void;
}

/** A violated property of a harness (the engine treats any other escaping error the same way). */
export class FuzzFinding extends Error {
  override readonly name = 'FuzzFinding';
}

export interface FuzzReport {
  target: string;
  seconds: number;
  execs: number;
  execsPerSecond: number;
  corpusEntries: number;
  /** Distinct covered blocks of the source under test at the end. */
  coveredBlocks: number;
  findings: { message: string; file: string | undefined }[];
  memory: import('./memory.js').MemoryReport | undefined;
}
