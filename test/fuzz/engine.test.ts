// The fuzz engine itself: it must report what the harnesses rely on it to report, or a passing fuzz pass
// proves nothing. Toy targets: one that leaks, one that lets a TypeError out, one that only ever fails
// with a typed error, and one whose bug needs coverage feedback to be reached.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CodedError } from '../../src/core/errors.js';
import { startCoverage } from './engine/coverage.js';
import { fuzzTarget } from './engine/engine.js';
import type { FuzzTarget } from './engine/types.js';
import { onlyTypedErrors } from './targets/checks.js';

startCoverage();

class ToyError extends CodedError<'ERR_TOY'> {
  constructor() {
    super('ERR_TOY', 'refused');
  }
}

const toy = (name: string, run: (input: Buffer) => void): FuzzTarget => ({
  name,
  maxInputBytes: 64,
  sources: ['/test/fuzz/engine.test'],
  seeds: () => [Buffer.from('seed')],
  run,
});

const options = { seconds: 0.5, seed: 1, save: false, memoryInputs: 300 };

test('a target that keeps memory per input fails the memory bound', async () => {
  const kept: Buffer[] = [];
  const report = await fuzzTarget(
    toy('leak', () => {
      kept.push(Buffer.alloc(4096));
    }),
    options,
  );
  assert.ok(
    report.findings.some((f) => f.message.startsWith('memory bound: retained heap grew')),
    JSON.stringify(report.findings),
  );
});

test('an untyped error is a finding; a typed one is not', async () => {
  const untyped = await fuzzTarget(
    toy('untyped', (input) => {
      if (input.length > 6) (undefined as unknown as { x: number }).x = input.length;
    }),
    options,
  );
  assert.match(untyped.findings[0]?.message ?? '', /^TypeError: /);
  const typed = await fuzzTarget(
    toy('typed', (input) => {
      onlyTypedErrors(() => {
        if (input.length > 6) throw new ToyError();
      }, [ToyError]);
    }),
    options,
  );
  assert.deepEqual(typed.findings, []);
  assert.ok(typed.execs > 100);
});

/** Each byte of the magic prefix unlocks a new block: only coverage feedback keeps the partial matches. */
function magic(input: Buffer): void {
  if (input[0] !== 0x46) return;
  if (input[1] !== 0x55) return;
  if (input[2] !== 0x5a) return;
  if (input[3] !== 0x5a) return;
  throw new Error('magic reached');
}

test('coverage feedback reaches a four-byte magic prefix that random bytes would not', async () => {
  const report = await fuzzTarget(toy('magic', magic), { ...options, seconds: 60, stopAtFinding: true });
  assert.deepEqual(
    report.findings.map((f) => f.message),
    ['Error: magic reached'],
    `after ${report.execs} execs`,
  );
  assert.ok(report.corpusEntries >= 4, 'each partial match joined the corpus');
});
