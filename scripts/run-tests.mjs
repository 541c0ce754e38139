#!/usr/bin/env node
// Runs every test file under test/ with Node's test runner (TypeScript through tsx).
// Certificates are generated first when missing, so `npm test` works on a fresh clone.
// Usage: node scripts/run-tests.mjs [substring-filter ...] (matched against the path from the repository's
// root, e.g. `unit/replay` or `test/release`, so the checkout's own folder name never matches).
// Stopping this script (Ctrl-C, `timeout`, a CI runner) stops every test process and every server they
// started: the runner gets its own process group, which is killed as a whole.
// test/release/ (the installed-package test and the first-hour walkthrough; minutes each) runs only when a
// filter names it, as `npm run release-check` does.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

if (existsSync(join(root, 'dist/src/cli/certs.js'))) {
  const certs = spawnSync(process.execPath, [join(root, 'dist/src/cli/certs.js'), '--if-missing'], {
    stdio: 'inherit',
    cwd: root,
  });
  if (certs.status !== 0) process.exit(certs.status ?? 1);
}

const RELEASE_TESTS = join(root, 'test', 'release');
const files = collect(join(root, 'test')).filter((f) =>
  filters.length === 0
    ? !f.startsWith(RELEASE_TESTS)
    : filters.some((flt) => relative(root, f).includes(flt)),
);
// The release test files pack, install and run whole dev networks: minutes on a loaded machine.
const timeoutMs = files.some((f) => f.startsWith(RELEASE_TESTS)) ? 1_800_000 : 120_000;
const runner = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${timeoutMs}`, ...files],
  { stdio: 'inherit', cwd: root, detached: true },
);
// The group of the runner holds the test files and the eps, sd and proxy processes they start.
const killGroup = () => {
  try {
    process.kill(-runner.pid, 'SIGKILL');
  } catch {
    // already gone
  }
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    killGroup();
    process.exit(130);
  });
}
runner.on('exit', (code, signal) => {
  killGroup(); // anything a test file left behind
  process.exit(code ?? (signal ? 1 : 0));
});
