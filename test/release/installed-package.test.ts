/**
 * The package as an operator gets it: `npm pack` (its prepack builds dist/), the tarball's contents, then
 * `npm install -g --prefix DIR tarball` and, from the installed copy only, the launchers' help and version
 * and the demo network — once with the dev settings inside the installed package, once with a copy in a
 * folder the operator names (`--dir`). Slow (a build, an install, two demo runs): not part of `npm test`,
 * run by `npm run release-check` (or `node scripts/run-tests.mjs test/release/`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/processes.js';
import { lockDevPorts } from '../helpers/dev-ports-lock.js';
import { runUnitCommand, unitCommand } from './unit-commands.js';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number, env = {}): Promise<Ran> {
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return once(child, 'exit').then(([code]) => {
    clearTimeout(timer);
    return { code: code as number | null, stdout, stderr };
  });
}

const { name, version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
};

/** What an operator needs in the package; a glob-free list of representative paths. */
const REQUIRED = [
  'package.json',
  'README.md',
  'CHANGELOG.md',
  'LICENSE',
  'bin/eps',
  'bin/sd',
  'bin/proxy',
  'dist/src/cli/eps.js',
  'dist/src/cli/sd.js',
  'dist/src/cli/proxy.js',
  'dist/src/cli/sd-setup.js',
  'dist/src/demo/demo.js',
  'dist/examples/eps-ls.js',
  'proto/eps.proto',
  'docs/operations.md',
  'docs/settings.md',
  'settings/dev/README.md',
  'settings/dev/roles/hd-1/001_default.yml',
  'settings/dev/roles/sd-1/001_default.yml',
  'settings/dev/directory/001_base.json',
  'deploy/systemd/eps@.service',
  'deploy/systemd/sd@.service',
  'deploy/systemd/proxy-public@.service',
  'deploy/systemd/eps-nodes.target',
  'deploy/systemd/eps.sysusers.conf',
];
/** Never shipped: tests, benchmarks, sources, private keys, generated dev state. */
const FORBIDDEN = /^(test|bench|fuzz|src|scripts|\.ci|settings\/test)\/|\.key$|\/certs\/|\/data\/|\.map$/;

test('npm pack ships what an operator needs and nothing of test/ or bench/', async () => {
  const dry = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], REPO_ROOT, 300_000);
  assert.equal(dry.code, 0, dry.stderr);
  const [packed] = JSON.parse(dry.stdout) as [{ filename: string; files: { path: string }[] }];
  // docs/first-hour.md installs the tarball npm pack makes, by its name.
  assert.ok(
    readFileSync(join(REPO_ROOT, 'docs/first-hour.md'), 'utf8').includes(
      `npm install -g ${packed.filename}\n`,
    ),
    `docs/first-hour.md: npm install -g ${packed.filename}`,
  );
  const paths = packed.files.map((f) => f.path);
  for (const path of REQUIRED) assert.ok(paths.includes(path), `${path} missing from the package`);
  assert.deepEqual(
    paths.filter((p) => FORBIDDEN.test(p)),
    [],
  );
  // The license's full text (the FSF's file), not a notice pointing elsewhere.
  const license = readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8');
  assert.match(license, /^\s*GNU AFFERO GENERAL PUBLIC LICENSE\s+Version 3, 19 November 2007/);
  assert.match(license, /How to Apply These Terms to Your New Programs/);
  // No leftovers of deleted sources: every compiled module has its source.
  const stale = paths
    .filter((p) => p.startsWith('dist/') && p.endsWith('.js'))
    .filter((p) => !existsSync(join(REPO_ROOT, p.slice('dist/'.length).replace(/\.js$/, '.ts'))));
  assert.deepEqual(stale, [], 'compiled files without a source (remove dist/ and build again)');
});

test('the installed package runs its programs and the demo network', { timeout: 1_500_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'eps-installed-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));

  // npm pack runs prepack (the build); the tarball lands in work/.
  const pack = await run('npm', ['pack', '--json', '--pack-destination', work], REPO_ROOT, 600_000);
  assert.equal(pack.code, 0, pack.stderr);
  const [{ filename }] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as [{ filename: string }];
  const tarball = join(work, filename);

  // Dependencies come from the npm cache when they are there (offline CI), else from the registry.
  const prefix = join(work, 'prefix');
  const install = await run(
    'npm',
    ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball],
    work,
    600_000,
  );
  assert.equal(install.code, 0, `npm install failed:\n${install.stdout}\n${install.stderr}`);
  const installed = join(prefix, 'lib', 'node_modules', name);
  assert.ok(existsSync(join(installed, 'dist/src/cli/eps.js')), 'dist/ is installed');
  assert.ok(!existsSync(join(installed, 'test')), 'test/ is not installed');

  const binDir = join(prefix, 'bin');
  const env = { PATH: `${binDir}:${process.env.PATH ?? ''}`, EPS_SETTINGS: '', SD_SETTINGS: '' };
  for (const program of ['eps', 'sd', 'proxy']) {
    const help = await run(join(binDir, program), ['--help'], work, 30_000, env);
    assert.equal(help.code, 0, `${program} --help: ${help.stderr}`);
    assert.match(help.stdout, new RegExp(`Usage: ${program}`));
    // No checkout around the installed copy: the bare package version.
    for (const args of [['--version'], ['version']]) {
      const v = await run(join(binDir, program), args, work, 30_000, env);
      assert.equal(v.code, 0, `${program} ${args[0]}: ${v.stderr}`);
      assert.equal(v.stdout, `${version}\n`);
    }
  }

  t.after(await lockDevPorts());
  // The dev settings inside the installed package (the prefix is the operator's own, so writable).
  const inside = await run(join(binDir, 'eps'), ['demo', '--once'], work, 240_000, env);
  assert.equal(inside.code, 0, `eps demo --once:\n${inside.stderr}`);
  assert.match(inside.stdout, /"name": "hd-2"/);
  assert.ok(existsSync(join(installed, 'settings/dev/certs/root.crt')), 'certificates generated in place');

  // A folder the operator names: the dev settings are copied there, the package is left alone.
  const own = join(work, 'my-demo');
  const named = await run(join(binDir, 'eps'), ['demo', '--once', '--dir', own], work, 240_000, env);
  assert.equal(named.code, 0, `eps demo --once --dir:\n${named.stderr}`);
  assert.match(named.stdout, /"name": "hd-2"/);
  assert.match(named.stderr, /copied the dev settings into/);
  assert.ok(existsSync(join(own, 'settings/dev/certs/hd-1.crt')));
  assert.ok(existsSync(join(own, 'settings/dev/data')), 'the stores write into the named folder');

  // deploy/systemd/ (no systemd here): each unit's ExecStart, Environment and WorkingDirectory, run as
  // written against the installed launchers — /usr/local/bin is the temporary prefix's bin/, /etc/eps the
  // named folder's dev roles (the instances' settings folders), /var/lib/eps a folder of work/. The eps
  // instance is a folder made by `eps operator init` with its state in the unit's StateDirectory (README,
  // "Operating a node"); sd and the proxies are the dev roles.
  const etc = join(own, 'settings/dev/roles');
  const state = join(work, 'var-lib-eps');
  const init = await run(
    join(binDir, 'eps'),
    [
      ...['operator', 'init', 'hd-3', '--dir', join(etc, 'hd-3'), '--network-dir', own],
      ...['--data-dir', join(state, 'hd-3'), '--grpc', 'localhost:8890', '--gateway', 'localhost:3335'],
      ...['--metrics', 'localhost:2114', '--backend', 'http://localhost:5560/jsonrpc'],
    ],
    work,
    60_000,
    env,
  );
  assert.equal(init.code, 0, `eps operator init:\n${init.stderr}`);
  for (const [unit, instance] of [
    ['sd@.service', 'sd-1'],
    ['proxy-public@.service', 'public-proxy-1'],
    ['proxy-private@.service', 'private-proxy-1'],
    ['eps@.service', 'hd-3'],
  ] as const) {
    const command = unitCommand(unit, instance);
    assert.ok(
      command.argv[0]!.startsWith('/usr/local/bin/') &&
        existsSync(join(binDir, command.argv[0]!.slice('/usr/local/bin/'.length))),
      `${unit}: ExecStart names an installed launcher: ${command.argv[0]}`,
    );
    const ran = await runUnitCommand(command, { binDir, settingsRoot: etc, stateRoot: state });
    assert.deepEqual([ran.code, ran.signal], [0, null], `${unit}: a clean exit on ${command.killSignal}`);
    assert.equal(ran.lines.at(-1)?.msg, 'stopped', unit);
    assert.ok(!ran.lines.some((l) => l.level === 'error'), `${unit}: ${JSON.stringify(ran.lines)}`);
  }
});
