/**
 * `npm run faults`: the fault scenarios of issue 11 on a dev network of real processes, one after the other,
 * then a table (failed calls, of them "may have been processed", time to recover, records lost). Every
 * process's log, the settings copy and the table stay in the folder named at the end.
 *
 * Options: `--only NAME[,NAME...]` run only these scenarios; `--seconds N` load after each fault (default
 * 10); `--kills N` kills of sd-kill-9 (default 20); `--concurrency N` (default 8).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { ensureCertificates } from '../../src/tls/ensure-certs.js';
import { REPO_ROOT } from '../../test/helpers/processes.js';
import type { ScenarioResult } from './context.js';
import { FaultRun } from './driver.js';
import { SCENARIOS, scenarioByName } from './scenarios.js';
import { resultTable } from './table.js';

const positive = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number, got '${v}'`);
  return n;
};

const program = new Command('faults')
  .option('--only <names>', 'comma-separated scenario names')
  .option('--seconds <n>', 'seconds of load after each fault', positive, 10)
  .option('--kills <n>', 'kills of sd-kill-9', positive, 20)
  .option('--concurrency <n>', 'concurrent calls of the load', positive, 8)
  .parse();
const opts = program.opts<{ only?: string; seconds: number; kills: number; concurrency: number }>();
const chosen = opts.only ? opts.only.split(',').map(scenarioByName) : SCENARIOS;

await ensureCertificates(REPO_ROOT, 'dev');
const dir = mkdtempSync(join(tmpdir(), 'eps-faults-'));
const run = new FaultRun(dir, { seconds: opts.seconds, kills: opts.kills, concurrency: opts.concurrency });
const results: ScenarioResult[] = [];
const stop = (): void => void run.stop().finally(() => process.exit(130));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
let code = 0;
try {
  console.error(`starting the dev network in ${dir} ...`);
  await run.start();
  for (const s of chosen) {
    const why = run.missing(s);
    if (why) {
      console.error(`${s.name}: skipped (${why})`);
      continue;
    }
    console.error(`${s.name}: ${s.title} ...`);
    const r = await run.run(s);
    console.error(`  ${JSON.stringify(r)}`);
    results.push(r);
    if (Number.isNaN(r.failed) || (r.recordsLost ?? 0) > 0) code = 1;
  }
} finally {
  await run.stop();
}
const header =
  `# ${new Date().toISOString()}  node ${process.version}  ${availableParallelism()} cpus  load ` +
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ') +
  `  c=${opts.concurrency} --seconds ${opts.seconds} --kills ${opts.kills}`;
const table = resultTable(results);
console.log(`${header}\n\n${table}\n`);
console.log(
  SCENARIOS.filter((s) => chosen.includes(s))
    .map((s) => `- ${s.name}: ${s.title}`)
    .join('\n'),
);
writeFileSync(join(dir, 'results.md'), `${header}\n\n${table}\n`);
console.log(`\nlogs, settings and results: ${dir}`);
process.exit(code);
