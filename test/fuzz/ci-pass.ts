/**
 * The short fuzz pass of `npm test`: one test per target replays its kept corpus (fuzz/corpus/<target>/,
 * regression inputs included) and then runs FUZZ_CI_SECONDS (default 2) seconds of new inputs, with the
 * memory bound checked at the end. Nothing is written to the corpus; a finding fails the test with the
 * seed that replays it (FUZZ_SEED=<seed> npm run fuzz -- <target>).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configureLogging } from '../../src/core/log.js';
import { startCoverage } from './engine/coverage.js';
import { fuzzTarget } from './engine/engine.js';

const CI_SECONDS = Number(process.env.FUZZ_CI_SECONDS ?? 2);
const MEMORY_INPUTS = 300;

export function fuzzCiPass(name: string): void {
  test(`fuzz ${name}: kept corpus and ${CI_SECONDS} s of new inputs hold every property and the memory bound`, async () => {
    startCoverage();
    configureLogging({ level: 'error' });
    const { TARGETS } = await import('./targets/index.js');
    const target = TARGETS.find((t) => t.name === name);
    assert.ok(target, `no fuzz target ${name}`);
    const seed = process.env.FUZZ_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FUZZ_SEED);
    const lines: string[] = [];
    const report = await fuzzTarget(target, {
      seconds: CI_SECONDS,
      seed,
      save: false,
      memoryInputs: MEMORY_INPUTS,
      log: (line) => lines.push(line),
    });
    assert.deepEqual(report.findings, [], `seed ${seed}:\n${lines.join('\n')}`);
    assert.ok(report.execs > 100, `only ${report.execs} inputs ran`);
    assert.ok(report.corpusEntries > 0);
  });
}
