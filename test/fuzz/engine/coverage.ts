/**
 * Coverage feedback from V8 itself: block-level precise coverage through node:inspector (the same data
 * `node --experimental-test-coverage` uses), read after each batch of inputs. No native addon and no
 * source instrumentation. Coverage must start before the code under test is compiled, so the entry points
 * call startCoverage() and only then import the targets.
 */
import { Session } from 'node:inspector';

interface CoverageRange {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface ScriptCoverage {
  url: string;
  functions: { ranges: CoverageRange[] }[];
}

let session: Session | undefined;

function post(method: string, params: object = {}): unknown {
  if (!session) throw new Error('coverage not started');
  let result: unknown;
  let failure: Error | null = null;
  // A session on the same thread answers synchronously.
  session.post(method, params, (err, res) => {
    failure = err;
    result = res;
  });
  if (failure) throw failure as Error;
  if (result === undefined) throw new Error(`${method}: no synchronous answer`);
  return result;
}

export function startCoverage(): void {
  if (session) return;
  session = new Session();
  session.connect();
  post('Profiler.enable');
  post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
}

/**
 * Blocks each function is known to have, by function key: V8 reports a nested block only when its count
 * differs from the enclosing range's, so a block shows up by itself mostly while it has not run (count 0).
 * Remembering those lets a later report tell that the block ran (its function ran and the block is no longer
 * inside a range of count 0).
 */
const knownBlocks = new Map<string, CoverageRange[]>();

function inside(block: CoverageRange, range: CoverageRange): boolean {
  return range.startOffset <= block.startOffset && block.endOffset <= range.endOffset;
}

/**
 * Blocks of the source under test that ran since the last call (taking coverage resets the counters), as
 * keys "url:start-end". `sources` are path parts, e.g. "/src/grpc/h2/".
 */
export function takeCoveredBlocks(sources: readonly string[]): string[] {
  const { result } = post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
  const keys: string[] = [];
  for (const script of result) {
    if (!sources.some((s) => script.url.includes(s))) continue;
    for (const fn of script.functions) {
      const [whole, ...nested] = fn.ranges;
      if (!whole || whole.count === 0) continue;
      const fnKey = `${script.url}:${whole.startOffset}-${whole.endOffset}`;
      keys.push(fnKey);
      const zeros = nested.filter((r) => r.count === 0);
      for (const r of nested) if (r.count > 0) keys.push(`${script.url}:${r.startOffset}-${r.endOffset}`);
      const known = knownBlocks.get(fnKey) ?? [];
      for (const block of known) {
        if (!zeros.some((zero) => inside(block, zero)))
          keys.push(`${script.url}:${block.startOffset}-${block.endOffset}`);
      }
      for (const zero of zeros) {
        if (!known.some((k) => k.startOffset === zero.startOffset && k.endOffset === zero.endOffset))
          known.push(zero);
      }
      knownBlocks.set(fnKey, known);
    }
  }
  return keys;
}

export function coverageStarted(): boolean {
  return session !== undefined;
}
