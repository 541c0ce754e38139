/** Command-line behaviour of the launchers: version/help without settings, exit codes, clear errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { once } from 'node:events';
import { REPO_ROOT, runProgram, runPrograms } from '../helpers/processes.js';

type Ran = Awaited<ReturnType<typeof runProgram>>;

const noSettings = { EPS_SETTINGS: '', SD_SETTINGS: '', PROXY_SETTINGS: '' };

const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

test('version, --version and --help work without any settings', async () => {
  // From a checkout: the package version and the commit (an installed package: test/release/).
  const commit = existsSync(join(REPO_ROOT, '.git')) ? ' \\(git [0-9a-f]{12}\\)' : '';
  const expected = new RegExp(`^${version.replace(/\./g, '\\.')}${commit}\n$`);
  const bins = ['eps', 'sd', 'proxy'];
  // Each launcher three times, at once (runPrograms bounds how many run together).
  const runs = bins.flatMap((bin) =>
    ['version', '--version', '--help'].map((arg) => ({ bin, args: [arg], env: noSettings })),
  );
  const results = await runPrograms(runs);
  bins.forEach((bin, i) => {
    const [v, flag, h] = results.slice(3 * i, 3 * i + 3) as [Ran, Ran, Ran];
    assert.equal(v.code, 0, bin);
    assert.match(v.stdout, expected);
    assert.equal(flag.code, 0, bin);
    assert.equal(flag.stdout, v.stdout);
    assert.equal(h.code, 0, bin);
    assert.match(h.stdout, /Usage:/);
  });
});

test('unknown commands print "No help topic" and exit 3', async () => {
  const [r, sub] = await runPrograms([
    { bin: 'eps', args: ['frobnicate'], env: noSettings },
    { bin: 'eps', args: ['server', 'walk'], env: noSettings },
  ]);
  assert.equal(r!.code, 3);
  assert.match(r!.stderr, /No help topic for 'frobnicate'/);
  assert.equal(sub!.code, 3);
});

test('missing or invalid settings and bad flags exit non-zero with a clear message', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eps-cli-'));
  try {
    writeFileSync(
      join(dir, '001.yml'),
      'name: x\nchannels: []\ndirectory: {type: json, settings: {path: /x}}\nbogus: 1\n',
    );
    // Independent runs, at once (runPrograms).
    const [unset, unknown, missing, level] = (await runPrograms([
      { bin: 'eps', args: ['server', 'run'], env: noSettings },
      { bin: 'eps', args: ['server', 'run'], env: { EPS_SETTINGS: dir } },
      { bin: 'eps', args: ['server', 'run'], env: { EPS_SETTINGS: join(dir, 'nope') } },
      { bin: 'eps', args: ['--level', 'loud', 'version'], env: noSettings },
    ])) as [Ran, Ran, Ran, Ran];
    assert.equal(unset.code, 1);
    assert.match(unset.stderr, /EPS_SETTINGS is not set/);

    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      new RegExp(`settings error in ${join(dir, '001.yml')}.*unknown key 'bogus'`),
    );

    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope/);

    assert.equal(level.code, 1);
    assert.match(level.stderr, /error parsing level/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a port already in use aborts start-up with exit 1 and names the address', async () => {
  const blocker = net.createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const port = (blocker.address() as net.AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'eps-cli-'));
  try {
    writeFileSync(join(dir, 'd.json'), JSON.stringify({ records: [] }));
    writeFileSync(
      join(dir, '001.yml'),
      [
        'name: x',
        `directory: {type: json, settings: {path: "${join(dir, 'd.json')}"}}`,
        'channels:',
        '  - {name: gw, type: jsonrpc_server, settings: {bind_address: "127.0.0.1:' + port + '"}}',
      ].join('\n'),
    );
    const r = await runProgram('eps', ['server', 'run'], { EPS_SETTINGS: join(dir, '001.yml') });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`error opening channel 0: error binding to address '127.0.0.1:${port}'`),
    );
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
