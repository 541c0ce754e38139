/**
 * `npm run fuzz [-- target...]`: fuzzes each target for FUZZ_SECONDS (default 60) seconds, keeps what
 * reached new code in fuzz/corpus/<target>/ (minimised) and every finding as finding-*, checks the memory
 * bound, prints a summary, and exits non-zero on any finding. FUZZ_SEED replays a run; FUZZ_SAVE=0 leaves
 * the corpus untouched.
 */
import { configureLogging } from '../../src/core/log.js';
import { startCoverage } from './engine/coverage.js';
import { fuzzTarget } from './engine/engine.js';
import type { FuzzReport } from './engine/types.js';

startCoverage();
// The gateway's parser logs a warning per refused body; the fuzzer's own lines are what matter here.
configureLogging({ level: 'error' });
const { TARGETS } = await import('./targets/index.js');

const seconds = Number(process.env.FUZZ_SECONDS ?? 60);
const seed = process.env.FUZZ_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FUZZ_SEED);
const save = process.env.FUZZ_SAVE !== '0';
const names = process.argv.slice(2);
const unknown = names.filter((n) => !TARGETS.some((t) => t.name === n));
if (unknown.length > 0 || !Number.isFinite(seconds) || seconds < 0) {
  console.error(
    `usage: npm run fuzz [-- ${TARGETS.map((t) => t.name).join('|')} ...] (FUZZ_SECONDS=${seconds})`,
  );
  process.exit(2);
}
const selected = names.length === 0 ? TARGETS : TARGETS.filter((t) => names.includes(t.name));

const mib = (n: number): string => (n / 1024 / 1024).toFixed(2);
const reports: FuzzReport[] = [];
console.log(`fuzzing ${selected.map((t) => t.name).join(', ')} for ${seconds} s each (seed ${seed})`);
for (const target of selected) {
  const report = await fuzzTarget(target, { seconds, seed, save, log: (line) => console.log(line) });
  reports.push(report);
  const m = report.memory;
  console.log(
    `[${report.target}] done: ${report.execs} execs in ${report.seconds.toFixed(1)} s (${report.execsPerSecond}/s), ` +
      `corpus ${report.corpusEntries}, blocks ${report.coveredBlocks}, findings ${report.findings.length}` +
      (m
        ? `; memory over ${m.inputs}x${m.passes}: heap ${mib(m.heapGrowthBytes)} MiB, rss ${mib(m.rssGrowthBytes)} MiB, one input ≤ ${mib(m.maxInputHeapBytes)} MiB`
        : ''),
  );
}
const failed = reports.filter((r) => r.findings.length > 0);
for (const r of failed)
  for (const f of r.findings)
    console.log(`FINDING ${r.target}: ${f.message}${f.file ? ` (fuzz/corpus/${r.target}/${f.file})` : ''}`);
process.exit(failed.length > 0 ? 1 : 0);
