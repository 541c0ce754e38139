/**
 * deploy/systemd/: every unit passes `systemd-analyze verify` without a warning (as an instance, with
 * ExecStart pointed at this checkout's launchers, since the units name the npm global prefix
 * /usr/local/bin), carries the hardening and the stop bound the README promises, and orders proxies after
 * the eps nodes of their host (eps-nodes.target), so that a proxy stops first. Skipped, loudly, where
 * systemd-analyze is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/processes.js';
import { FORCED_EXIT_MS } from '../../src/cli/common.js';

const UNITS_DIR = join(REPO_ROOT, 'deploy/systemd');
const units = readdirSync(UNITS_DIR).filter((f) => f.endsWith('@.service'));
/** The ordering point between eps nodes and proxies of one host. */
const TARGET = 'eps-nodes.target';
const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const skip = analyze.status === 0 ? false : 'systemd-analyze is not installed';
if (skip) process.stderr.write('*** SKIPPED: systemd-analyze verify of deploy/systemd (not installed) ***\n');

/** Directives every unit must set, with the value (a RegExp for the line after '='). */
const REQUIRED: Array<[string, RegExp]> = [
  ['User', /^eps$/],
  ['NoNewPrivileges', /^yes$/],
  ['ProtectSystem', /^strict$/],
  ['ProtectHome', /^yes$/],
  ['PrivateTmp', /^yes$/],
  ['RestrictAddressFamilies', /^AF_INET AF_INET6 AF_UNIX$/],
  ['MemoryMax', /^\d+[MG]$/],
  ['Restart', /^on-failure$/],
  ['KillSignal', /^SIGTERM$/],
  ['CapabilityBoundingSet', /^$/],
  ['StateDirectory', /^eps\/%i$/],
];

function directives(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m && !map.has(m[1]!)) map.set(m[1]!, m[2]!);
  }
  return map;
}

test('the units cover eps, sd and both proxies', () => {
  assert.deepEqual(units.sort(), [
    'eps@.service',
    'proxy-private@.service',
    'proxy-public@.service',
    'sd@.service',
  ]);
});

test("every unit is hardened and stops within the programs' own bound", () => {
  for (const unit of units) {
    const found = directives(readFileSync(join(UNITS_DIR, unit), 'utf8'));
    for (const [key, value] of REQUIRED) {
      assert.match(found.get(key) ?? '<missing>', value, `${unit}: ${key}`);
    }
    // systemd's SIGKILL comes only after the program's own forced exit.
    assert.ok(Number(found.get('TimeoutStopSec')) * 1000 > FORCED_EXIT_MS, `${unit}: TimeoutStopSec`);
  }
});

/** Every value of `key` in a unit (ordering directives may be given several times). */
function allOf(text: string, key: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${key}=`))
    .flatMap((line) => line.slice(key.length + 1).split(/\s+/));
}

test('a proxy stops before the eps nodes of its host (ordered after eps-nodes.target)', () => {
  const read = (unit: string): string => readFileSync(join(UNITS_DIR, unit), 'utf8');
  const eps = read('eps@.service');
  assert.ok(allOf(eps, 'Before').includes(TARGET), 'eps@ is ordered before the target');
  assert.ok(allOf(eps, 'Wants').includes(TARGET), 'eps@ pulls the target in (active, so it orders)');
  for (const proxy of ['proxy-public@.service', 'proxy-private@.service']) {
    assert.ok(allOf(read(proxy), 'After').includes(TARGET), `${proxy} is ordered after the target`);
  }
});

test('systemd-analyze verify accepts every unit without a warning', { skip }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'eps-units-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const unit of [...units, TARGET]) {
    const text = readFileSync(join(UNITS_DIR, unit), 'utf8');
    writeFileSync(join(dir, unit), text.replaceAll('/usr/local/bin/', join(REPO_ROOT, 'bin') + '/'));
  }
  for (const unit of [...units, TARGET]) {
    const instance = join(dir, unit.replace('@.', '@test-1.'));
    const r = spawnSync('systemd-analyze', ['verify', instance], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `${unit}: ${r.stderr}`);
    assert.equal(r.stderr.trim(), '', `${unit} has warnings`);
  }
});
