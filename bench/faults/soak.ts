/**
 * `npm run soak`: c=32 P2P calls (hd-1 → hd-2 through public-proxy-1) on the dev network for `--minutes`
 * (default 10), sampling the RSS and the open file descriptors of every process. Fails when a call fails or
 * when a process's RSS or descriptor count keeps growing: a least-squares slope over the samples after a
 * warm-up, against a threshold per minute (bench/faults/slope.ts).
 *
 * Options: `--minutes N`, `--concurrency N` (default 32).
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Command } from 'commander';
import { ensureCertificates } from '../../src/tls/ensure-certs.js';
import { REPO_ROOT } from '../../test/helpers/processes.js';
import { FaultRun } from './driver.js';
import { BackgroundLoad } from './load.js';
import { P2P_METHOD } from './context.js';
import { growthVerdict, type Sample } from './slope.js';

/**
 * RSS growth above this (fitted, per minute) fails the soak. At the ~800 calls/s of c=32 on the dev machine
 * it is about 40 bytes per call, so a leak of anything per call shows; a 3-minute run of a healthy network
 * measured slopes up to 1 MiB/min (V8's heap still settling), hence not lower.
 */
const RSS_MIB_PER_MINUTE = 2;
/** Descriptor growth above this (fitted, per minute) fails the soak. */
const FDS_PER_MINUTE = 1;
/** Samples over the run (at most one a second). */
const SAMPLES = 60;
const MiB = 1024 * 1024;

const program = new Command('soak')
  .option('--minutes <n>', 'how long the load runs', Number, 10)
  .option('--concurrency <n>', 'concurrent calls', Number, 32)
  .parse();
const { minutes, concurrency } = program.opts<{ minutes: number; concurrency: number }>();
if (!(minutes > 0) || !(concurrency > 0)) throw new Error('--minutes and --concurrency must be positive');

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

await ensureCertificates(REPO_ROOT, 'dev');
const dir = mkdtempSync(join(tmpdir(), 'eps-soak-'));
const run = new FaultRun(dir, { seconds: minutes * 60, kills: 0, concurrency });
const rss = new Map<string, Sample[]>();
const fds = new Map<string, Sample[]>();
let code = 0;
const lines: string[] = [];
try {
  await run.start();
  const pids = run.net.pids();
  const load = new BackgroundLoad(run.client, concurrency, P2P_METHOD, false);
  const t0 = performance.now();
  const every = Math.max(1000, (minutes * 60_000) / SAMPLES);
  try {
    for (let next = t0 + every; next <= t0 + minutes * 60_000 + 1; next += every) {
      await delay(next - performance.now());
      const at = (performance.now() - t0) / 60_000;
      for (const [role, pid] of pids) {
        (rss.get(role) ?? rss.set(role, []).get(role)!).push({ minutes: at, value: rssBytes(pid) });
        (fds.get(role) ?? fds.set(role, []).get(role)!).push({ minutes: at, value: openFds(pid) });
      }
      console.error(
        `${at.toFixed(1)} min: ${load.total} calls, ${load.failed} failed; RSS ` +
          [...pids.keys()].map((r) => `${r} ${(rss.get(r)!.at(-1)!.value / MiB).toFixed(0)}`).join(', '),
      );
    }
  } finally {
    await load.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  lines.push(
    `# soak ${new Date().toISOString()}: ${minutes} min, c=${concurrency} ${P2P_METHOD} through hd-1's gateway and public-proxy-1`,
    `calls ${load.total} (${(load.total / seconds).toFixed(0)}/s), failed ${load.failed}` +
      (load.firstError ? ` (first: ${load.firstError})` : ''),
    '',
    '| process | RSS first → last (MiB) | RSS slope (MiB/min) | fds first → last | fd slope (/min) | verdict |',
    '|---|---|---:|---|---:|---|',
  );
  if (load.failed > 0) code = 1;
  for (const role of pids.keys()) {
    const r = rss.get(role)!;
    const f = fds.get(role)!;
    const rv = growthVerdict(r, RSS_MIB_PER_MINUTE * MiB);
    const fv = growthVerdict(f, FDS_PER_MINUTE);
    const growing = [rv.growing ? 'RSS' : '', fv.growing ? 'fds' : ''].filter(Boolean);
    if (growing.length) code = 1;
    lines.push(
      `| ${role} | ${(r[0]!.value / MiB).toFixed(0)} → ${(r.at(-1)!.value / MiB).toFixed(0)} | ` +
        `${(rv.slopePerMinute / MiB).toFixed(2)} | ${f[0]!.value} → ${f.at(-1)!.value} | ` +
        `${fv.slopePerMinute.toFixed(2)} | ${growing.length ? `growing: ${growing.join(', ')}` : 'flat'} |`,
    );
  }
  lines.push(
    '',
    `thresholds: RSS ${RSS_MIB_PER_MINUTE} MiB/min, fds ${FDS_PER_MINUTE}/min (least squares over the samples after the first 20 %)`,
  );
} finally {
  await run.stop();
}
console.log(lines.join('\n'));
writeFileSync(join(dir, 'soak.md'), lines.join('\n') + '\n');
console.log(`\nlogs, settings and results: ${dir}\n${code === 0 ? 'PASS' : 'FAIL'}`);
process.exit(code);
