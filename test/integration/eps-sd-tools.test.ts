/**
 * `eps sd ...` record tools and `sd-setup` as real processes: sign/verify round trip and exit codes, refusal
 * without signing settings or with a json directory, submit-records (one chain over several files, --reset)
 * against a real JSON-RPC HTTPS server, then get-entries / get-records through the api directory.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { JsonObject } from '../../src/core/json.js';
import type { DirectoryEntry, SignedChangeRecord } from '../../src/core/directory-entry.js';
import { verifyRecord, TrustStore } from '../../src/records/index.js';
import { CERTS, testCertificates } from '../helpers/network.js';
import { REPO_ROOT, runProgram, runPrograms } from '../helpers/processes.js';
import { apiSettings, RecordsServer } from '../helpers/records-server.js';
import { readFileSync } from 'node:fs';

let dir: string;
let server: RecordsServer;

const signing = (name = 'hd-1'): JsonObject => ({
  certificate_file: join(CERTS, `${name}-sign.crt`),
  key_file: join(CERTS, `${name}-sign.key`),
  ca_certificate_file: join(CERTS, 'root.crt'),
  ca_intermediate_certificate_files: [join(CERTS, 'intermediate.crt')],
});

/** Writes an EPS settings folder and returns its path (for EPS_SETTINGS). */
function settingsDir(label: string, settings: JsonObject): string {
  const path = join(dir, 'settings', label);
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, '001.json'), JSON.stringify({ channels: [], ...settings }));
  return path;
}

function apiDirectory(): JsonObject {
  return { type: 'api', settings: apiSettings([server.url]) };
}

function recordsFile(name: string, records: JsonObject[]): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ records }));
  return path;
}

const change = (name: string, section: string, data: unknown[]): JsonObject =>
  ({ name, section, data, created_at: '2021-05-17T10:00:00Z' }) as JsonObject;

before(async () => {
  await testCertificates();
  dir = mkdtempSync(join(tmpdir(), 'eps-sd-tools-'));
  server = new RecordsServer();
  await server.start(0);
});

after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('sign and verify: round trip, exit codes, wrong name, tampered data, missing arguments', async () => {
  const env = {
    EPS_SETTINGS: settingsDir('sign', { name: 'hd-1', directory: apiDirectory(), signing: signing() }),
  };
  const input = join(dir, 'data.json');
  writeFileSync(input, JSON.stringify({ hello: 'world', list: [1, 'two', { x: null }] }));

  const signed = await runProgram('eps', ['sd', 'sign', input], env);
  assert.equal(signed.code, 0, signed.stderr);
  const envelope = JSON.parse(signed.stdout) as {
    signature: { r: string; s: string; c: string };
    data: unknown;
  };
  assert.deepEqual(envelope.data, { hello: 'world', list: [1, 'two', { x: null }] });
  assert.match(envelope.signature.r, /^\d{10,100}$/);
  assert.match(envelope.signature.c, /^-----BEGIN CERTIFICATE-----\n/);

  const file = join(dir, 'signed.json');
  writeFileSync(file, signed.stdout);
  // The runs that read the same files are made at once (runPrograms), the files changed between batches.
  const [ok, wrongName, noName, noFile] = await runPrograms([
    { bin: 'eps', args: ['sd', 'verify', file, 'hd-1'], env },
    { bin: 'eps', args: ['sd', 'verify', file, 'hd-2'], env },
    { bin: 'eps', args: ['sd', 'verify', file], env },
    { bin: 'eps', args: ['sd', 'sign'], env },
  ]);
  assert.equal(ok!.code, 0, ok!.stderr);
  assert.match(ok!.stderr, /Signature is ok!/);
  assert.equal(wrongName!.code, 1);
  assert.match(wrongName!.stderr, /Signature is not valid!.*not valid for name hd-2/);
  assert.equal(noName!.code, 1);
  assert.match(noName!.stderr, /please specify a name/);
  assert.equal(noFile!.code, 1);
  assert.match(noFile!.stderr, /please specify a filename/);

  writeFileSync(file, signed.stdout.replace('world', 'World'));
  writeFileSync(input, '[1, 2]');
  const [tampered, notObject] = await runPrograms([
    { bin: 'eps', args: ['sd', 'verify', file, 'hd-1'], env },
    { bin: 'eps', args: ['sd', 'sign', input], env },
  ]);
  assert.equal(tampered!.code, 1);
  assert.match(tampered!.stderr, /Signature is not valid!/);
  assert.equal(notObject!.code, 1);
  assert.match(notObject!.stderr, /must hold a JSON object/);
});

test('submit-records refuses without signing settings and with a json directory', async () => {
  const file = recordsFile('one.json', [change('x', 'groups', ['a'])]);
  const noSigning = settingsDir('no-signing', { name: 'hd-1', directory: apiDirectory() });
  const json = settingsDir('json', {
    name: 'hd-1',
    directory: { type: 'json', settings: { path: join(REPO_ROOT, 'settings/test/directory') } },
    signing: signing(),
  });
  const hd2 = settingsDir('hd-2', { name: 'hd-2', directory: apiDirectory(), signing: signing('hd-2') });
  const before = server.calls.filter((c) => c.method === 'submitRecords').length;
  // Independent runs, made at once (runPrograms); none of them may send anything.
  const [r1, r2, r3, entries] = await runPrograms([
    { bin: 'eps', args: ['sd', 'submit-records', file], env: { EPS_SETTINGS: noSigning } },
    { bin: 'eps', args: ['sd', 'submit-records', file], env: { EPS_SETTINGS: json } },
    { bin: 'eps', args: ['sd', 'submit-records', file], env: { EPS_SETTINGS: hd2 } },
    { bin: 'eps', args: ['sd', 'get-entries', '--name', 'op-1'], env: { EPS_SETTINGS: json } },
  ]);
  assert.equal(r1!.code, 1);
  assert.match(r1!.stderr, /Signing settings undefined!/);
  assert.equal(r2!.code, 1);
  assert.match(r2!.stderr, /not a writable service directory/);

  // A signer outside sd-admin is refused before anything is sent.
  assert.equal(r3!.code, 1);
  assert.match(r3!.stderr, /not in group sd-admin/);
  assert.equal(server.calls.filter((c) => c.method === 'submitRecords').length, before);

  // get-entries works with a json directory.
  assert.equal(entries!.code, 0, entries!.stderr);
  const list = JSON.parse(entries!.stdout) as DirectoryEntry[];
  assert.deepEqual(
    list.map((e) => [e.name, e.groups]),
    [['op-1', ['Operators']]],
  );
});

test('submit-records --reset over several files makes one chain; get-entries and get-records read it back', async () => {
  server.chain = [];
  const env = {
    EPS_SETTINGS: settingsDir('submit', { name: 'hd-1', directory: apiDirectory(), signing: signing() }),
  };
  const a = recordsFile('a.json', [
    change('alpha', 'groups', ['g1']),
    change('alpha', 'services', [{ name: 'svc', description: 'dropped', methods: [{ name: 'm' }] }]),
  ]);
  const b = recordsFile('b.json', [change('beta', 'channels', [{ type: 'grpc_client' }])]);
  const started = Date.now();
  const submitted = await runProgram('eps', ['sd', 'submit-records', '--reset', a, b], env);
  assert.equal(submitted.code, 0, submitted.stderr);
  const submits = server.calls.filter((c) => c.method === 'submitRecords');
  assert.equal(
    (submits.at(-1)!.params.records as unknown[]).length,
    3,
    'all files in one submitRecords call',
  );

  const chain = server.chain;
  assert.equal(chain.length, 3);
  assert.equal(chain[0]!.parent_hash, '');
  assert.equal(chain[1]!.parent_hash, chain[0]!.hash);
  assert.equal(chain[2]!.parent_hash, chain[1]!.hash);
  assert.deepEqual(
    chain[1]!.record.data,
    [{ name: 'svc', permissions: [], methods: [{ name: 'm', permissions: [] }] }],
    'normalised',
  );
  const stamp = Date.parse(chain[0]!.record.created_at);
  assert.ok(stamp >= started - 1000 && stamp <= Date.now() + 1000, 'created_at is the signing time');
  const trust = TrustStore.fromPem(
    [readFileSync(join(CERTS, 'root.crt'), 'utf8')],
    [readFileSync(join(CERTS, 'intermediate.crt'), 'utf8')],
  );
  chain.forEach((record, i) => assert.ok(verifyRecord(record, chain.slice(0, i), trust).ok));

  // Without --reset the next record hangs off the SD's tip.
  const c = recordsFile('c.json', [change('alpha', 'groups', ['g2'])]);
  const more = await runProgram('eps', ['sd', 'submit-records', c], env);
  assert.equal(more.code, 0, more.stderr);
  assert.equal(server.chain.length, 4);
  assert.equal(server.chain[3]!.parent_hash, chain[2]!.hash);

  // The reads, at once (runPrograms).
  const [entries, one, records, bad] = await runPrograms([
    { bin: 'eps', args: ['sd', 'get-entries'], env },
    { bin: 'eps', args: ['sd', 'get-entries', '--name', 'beta'], env },
    { bin: 'eps', args: ['sd', 'get-records', '--after', chain[1]!.hash], env },
    { bin: 'eps', args: ['sd', 'get-records', '--after', 'xyz'], env },
  ]);
  assert.equal(entries!.code, 0, entries!.stderr);
  const list = JSON.parse(entries!.stdout) as DirectoryEntry[];
  assert.deepEqual(
    list.map((e) => e.name),
    ['alpha', 'beta'],
  );
  assert.deepEqual(list[0]!.groups, ['g2']);
  assert.equal(list[0]!.records.length, 3);
  assert.deepEqual(
    (JSON.parse(one!.stdout) as DirectoryEntry[]).map((e) => e.name),
    ['beta'],
  );

  assert.equal(records!.code, 0, records!.stderr);
  assert.deepEqual(
    (JSON.parse(records!.stdout) as SignedChangeRecord[]).map((r) => r.hash),
    [chain[2]!.hash, server.chain[3]!.hash],
  );
  assert.equal(bad!.code, 1);
});

test('every eps sd subcommand has --help', async () => {
  const subs = ['get-entries', 'get-records', 'submit-records', 'sign', 'verify'];
  const results = await runPrograms(
    subs.map((sub) => ({ bin: 'eps', args: ['sd', sub, '--help'], env: { EPS_SETTINGS: '' } })),
  );
  subs.forEach((sub, i) => {
    assert.equal(results[i]!.code, 0, sub);
    assert.match(results[i]!.stdout, new RegExp(`Usage: eps sd ${sub}`));
  });
});

test('sd-setup submits every *.json of DIR in name order, the first one as a new root', async () => {
  server.chain = [];
  const settings = settingsDir('setup', { name: 'hd-1', directory: apiDirectory(), signing: signing() });
  const records = join(dir, 'setup-records');
  mkdirSync(records);
  writeFileSync(join(records, '002_b.json'), JSON.stringify({ records: [change('two', 'groups', ['x'])] }));
  writeFileSync(
    join(records, '001_a.json'),
    JSON.stringify({ records: [change('one', 'groups', ['x']), change('one', 'groups', ['y'])] }),
  );
  writeFileSync(join(records, 'notes.txt'), 'ignored');
  const submitsBefore = server.calls.filter((c) => c.method === 'submitRecords').length;

  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, 'dist/src/cli/sd-setup.js'), records, '--settings', settings],
    { cwd: REPO_ROOT },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, out);
  assert.match(out, /Importing .*001_a\.json \(new root, --reset\)/);
  assert.match(out, /Importing .*002_b\.json\.\.\./);
  assert.equal(server.calls.filter((c) => c.method === 'submitRecords').length, submitsBefore + 2);
  assert.deepEqual(
    server.chain.map((r) => r.record.name),
    ['one', 'one', 'two'],
  );
  assert.equal(server.chain[0]!.parent_hash, '');
  assert.equal(server.chain[2]!.parent_hash, server.chain[1]!.hash);
});
