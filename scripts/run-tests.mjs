#!/usr/bin/env node
// Runs every test file under test/ with Node's test runner (TypeScript through tsx).
// Certificates are generated first when missing, so `npm test` works on a fresh clone.
// Usage: node scripts/run-tests.mjs [substring-filter ...]
// test/release/ (the installed-package test and the first-hour walkthrough; minutes each) runs only when a
// filter names it, as `npm run release-check` does.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

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
  filters.length === 0 ? !f.startsWith(RELEASE_TESTS) : filters.some((flt) => f.includes(flt)),
);
// The release test files pack, install and run whole dev networks: minutes on a loaded machine.
const timeoutMs = files.some((f) => f.startsWith(RELEASE_TESTS)) ? 1_800_000 : 120_000;
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${timeoutMs}`, ...files],
  { stdio: 'inherit', cwd: root },
);
process.exit(result.status ?? 1);
