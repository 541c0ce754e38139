// The dependency rules of .dependency-cruiser.mjs (run by `npm run deps` in `npm test`) are themselves
// under test: on a fixture tree that breaks each rule once, the cruiser must report exactly those breaks.
// And ARCHITECTURE.md must draw the same layers the rules check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const rulesFile = `${root}.dependency-cruiser.mjs`;
const CRUISE_DEADLINE_MS = 60_000;

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

function cruise(cwd: string): Violation[] {
  const cli = `${root}node_modules/dependency-cruiser/bin/dependency-cruise.mjs`;
  const run = spawnSync(
    process.execPath,
    [cli, 'src', 'bench', '--config', rulesFile, '--output-type', 'json'],
    {
      cwd,
      encoding: 'utf8',
      timeout: CRUISE_DEADLINE_MS,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  assert.equal(run.error, undefined, `dependency-cruiser did not finish: ${String(run.error)}`);
  const result = JSON.parse(run.stdout) as { summary: { violations: Violation[] } };
  return result.summary.violations;
}

test('the rules report a forbidden import, a cycle and each other break in the fixture tree', () => {
  const violations = cruise(`${root}test/fixtures/layers`);
  const reported = violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
  assert.deepEqual(reported, [
    'bench-uses-test-helpers-only: bench/run.ts -> test/unit/case.ts',
    'h2-below-grpc: src/grpc/h2/frame.ts -> src/grpc/status.ts',
    'layer-core: src/core/clock.ts -> src/broker/names.ts',
    'no-file-cycle: src/net/first.ts -> src/net/second.ts',
    'no-folder-cycle: src/broker -> src/core',
    'no-folder-cycle: src/core -> src/broker',
    'no-orphan: src/net/unused.ts -> src/net/unused.ts',
    'proxy-public-not-private: src/proxy/public/front.ts -> src/proxy/private/delivery.ts',
    'src-not-tests: src/core/clock.ts -> test/helper.ts',
    'unlisted-folder: src/cli/main.ts -> src/misc/helper.ts',
  ]);
});

test('ARCHITECTURE.md draws the layers the rules check, in the same order', async () => {
  const { layers } = (await import(pathToFileURL(rulesFile).href)) as { layers: string[][] };
  const doc = readFileSync(`${root}ARCHITECTURE.md`, 'utf8');
  // The layer chain at the top: "`cli`, `demo` → `eps`, ... → `core`."
  const chain = /^Layers, top down: (.+?)\.$/ms.exec(doc);
  assert.ok(chain?.[1], 'ARCHITECTURE.md has no "Layers, top down: ..." paragraph');
  const drawn = chain[1]
    .replace(/\s+/g, ' ')
    .split(' → ')
    .map((layer) => layer.split(', ').map((name) => name.replace(/`/g, '')));
  assert.deepEqual(drawn, layers);

  // The folder diagram lists the same folders in the same order (its subfolder lines are not counted).
  const diagram = /```\nsrc\/\n([\s\S]+?)```/.exec(doc)?.[1] ?? '';
  const described = [...diagram.matchAll(/^ {2}([a-z0-9-]+)\/ /gm)].map((m) => m[1]);
  assert.deepEqual(described, layers.flat());
});
