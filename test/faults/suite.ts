/**
 * Short versions of `npm run faults` (bench/faults) as tests: the named scenarios on one dev network of real
 * processes, 2 s of c=4 load after each fault unless the file says less (SuiteOptions). Asserted is what
 * holds today: P2P calls succeed again after every fault (the driver waits for that, bounded), calls
 * through the proxy do not notice the sd going down, a silent peer or one of two proxies stopping gracefully (the drain notice), only calls that may
 * have been processed fail across proxy, proxy-eps and peer restarts (the calls not processed wait for the
 * return, channels/safe-retry.ts), a node restarted while the sd is down routes, and nothing hangs. The figures (failed calls, recovery time) are measured by
 * `npm run faults` and recorded in BENCHMARKS.md.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FaultOptions } from '../../bench/faults/context.js';
import { FaultRun } from '../../bench/faults/driver.js';
import { scenarioByName } from '../../bench/faults/scenarios.js';
import { withDeadline } from '../helpers/wait.js';

/** Restarts after which every failed call must say that it may have been processed (none refused). */
const ONLY_MAYBE_PROCESSED_FAIL = new Set([
  'proxy-sigterm',
  'proxy-sigkill',
  'peer-restart',
  'proxy-eps-kill',
  'two-proxies-sigkill',
]);

/** A scenario's whole run, settling included, must end within this. */
const SCENARIO_DEADLINE_MS = 60_000;

/** What a file may change: seconds of load after each fault, hd-1's connect timeout (FaultOptions). */
export type SuiteOptions = Partial<Pick<FaultOptions, 'seconds' | 'connectTimeout'>>;

export function faultSuite(title: string, names: string[], options: SuiteOptions = {}): void {
  describe(title, () => {
    const dir = mkdtempSync(join(tmpdir(), 'eps-faults-test-'));
    const run = new FaultRun(dir, { seconds: 2, kills: 0, concurrency: 4, ...options });

    before(() => withDeadline(run.start(), { timeoutMs: 90_000, what: 'the dev network to route a call' }));
    after(async () => {
      await run.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    for (const s of names.map(scenarioByName)) {
      test(`${s.name}: ${s.title}`, { skip: run.missing(s) ?? false }, async (t) => {
        const r = await withDeadline(run.run(s), { timeoutMs: SCENARIO_DEADLINE_MS, what: s.name });
        t.diagnostic(JSON.stringify(r));
        // The driver reports an error when calls did not succeed again within its bound.
        assert.doesNotMatch(r.notes, /^ERROR/, r.notes);
        assert.ok(r.calls > 0, 'the scenario made calls');
        assert.ok(r.maybeProcessed <= r.failed);
        // Safe retries (issue 11): a call the peer provably did not process waits for the peer's or the
        // proxy's return within its deadline, so only calls that may have been processed fail.
        if (ONLY_MAYBE_PROCESSED_FAIL.has(s.name))
          assert.equal(r.failed, r.maybeProcessed, `a call failed that was not processed: ${r.notes}`);
        // The drain notice (issue 11): the stopping proxy's tunnels end after their calls, none is cut.
        if (s.name === 'two-proxies-sigterm')
          assert.equal(r.failed, 0, `calls failed while a proxy drained: ${r.notes}`);
        if (s.name === 'sd-down')
          assert.equal(r.failed, 0, `P2P calls failed while the sd was down: ${r.notes}`);
        // The verified state file: a node restarted while the sd is down routes (issue 11).
        if (s.name === 'node-restart-sd-down')
          assert.notEqual(r.recoverMs, undefined, `no call succeeded: ${r.notes}`);
        if (s.name === 'silent-peer') {
          assert.equal(r.failed, 0, `the load noticed the silent peer: ${r.notes}`);
          assert.ok(r.calls > 50, `the load stalled while the silent peer held calls: ${r.calls} calls`);
          assert.match(r.notes, /^4 of 4 calls to the silent peer failed/);
        }
      });
    }
  });
}
