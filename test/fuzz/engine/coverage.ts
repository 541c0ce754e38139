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
 * Blocks of the source under test that ran since the last call (taking coverage resets the counters), as
 * keys "url:start-end". `sources` are path parts, e.g. "/src/grpc/h2/".
 */
export function takeCoveredBlocks(sources: readonly string[]): string[] {
  const { result } = post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
  const keys: string[] = [];
  for (const script of result) {
    if (!sources.some((s) => script.url.includes(s))) continue;
    for (const fn of script.functions) {
      for (const range of fn.ranges) {
        if (range.count > 0) keys.push(`${script.url}:${range.startOffset}-${range.endOffset}`);
      }
    }
  }
  return keys;
}

export function coverageStarted(): boolean {
  return session !== undefined;
}
