/**
 * HTTP/2 conformance of our gRPC server, by h2spec (`npm run conformance`, scripts/conformance.mjs): a
 * real `eps` process over mutual TLS, default and strict runs, every test passing. h2spec is not ours and
 * not in the repository: it is expected at ../shared/tools/h2spec/h2spec beside the clone; without it
 * this test is reported as skipped, with a line saying so, never as passed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, runProgram } from '../helpers/processes.js';

const H2SPEC = join(REPO_ROOT, '../shared/tools/h2spec/h2spec');
/**
 * Both runs take seconds when they pass; each failing test waits for h2spec's timeout (3 s), so a broken
 * server takes minutes to report (26 failures in each run: about 160 s).
 */
const RUN_TIMEOUT_MS = 200_000;

const skip = existsSync(H2SPEC)
  ? false
  : 'SKIPPED: h2spec conformance — ../shared/tools/h2spec/h2spec not found';
if (skip) console.log(`\n*** ${skip} ***\n`);

test(
  'h2spec against a real eps gRPC server: every test passes, default and strict',
  { skip, timeout: RUN_TIMEOUT_MS + 10_000 },
  async () => {
    const script = join(REPO_ROOT, 'scripts/conformance.mjs');
    const { code, stdout, stderr } = await runProgram(
      process.execPath,
      [script, '--no-build'],
      {},
      RUN_TIMEOUT_MS,
    );
    const output = stdout + stderr;
    console.log(
      output
        .split('\n')
        .filter((line) => line.startsWith('h2spec '))
        .join('\n'),
    );
    assert.match(output, /h2spec default: (\d+) tests, \1 passed, 0 skipped, 0 failed/, output);
    assert.match(output, /h2spec strict: (\d+) tests, \1 passed, 0 skipped, 0 failed/, output);
    assert.equal(code, 0, output);
  },
);
