#!/usr/bin/env node
// `npm run release-check`: what must pass before a version is cut, in order, stopping at the first failure:
// lint, the whole test suite (`npm test`, which also builds, type-checks and checks the layering), the
// package's contents (`npm pack --dry-run`), and the release tests (test/release/): the installed-package
// test (packs, installs the tarball into a temporary prefix and runs the programs and the demo network from
// there) and the docs/first-hour.md walkthrough with real processes; they take minutes, which is why
// `npm test` leaves them out.
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;

const steps = [
  ['lint', 'npm', ['run', 'lint', '--silent']],
  ['tests', 'npm', ['test', '--silent']],
  ['package contents', 'npm', ['pack', '--dry-run', '--ignore-scripts']],
  // One after the other: both start the dev network on its fixed ports (one at a time, by a lock).
  ['installed package', process.execPath, ['scripts/run-tests.mjs', 'test/release/installed-package']],
  ['first hour', process.execPath, ['scripts/run-tests.mjs', 'test/release/first-hour']],
];

for (const [label, cmd, args] of steps) {
  process.stderr.write(
    `\n*** release-check: ${label} (${[cmd === process.execPath ? 'node' : cmd, ...args].join(' ')}) ***\n`,
  );
  const started = Date.now();
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  if (result.status !== 0) {
    process.stderr.write(`*** release-check FAILED at ${label} after ${seconds} s ***\n`);
    process.exit(result.status ?? 1);
  }
  process.stderr.write(`*** release-check: ${label} passed in ${seconds} s ***\n`);
}
process.stderr.write('\n*** release-check: all passed ***\n');
