#!/usr/bin/env node
// HTTP/2 conformance of our gRPC server, measured by an independent suite (h2spec, built with client
// certificates and gRPC-shaped requests: ../shared/tools/README.md). Starts a real `eps` server as a
// child process, as ls-1 with the dev certificates (settings/dev, generated if missing), and runs h2spec
// against it over mutual TLS as hd-1, whose certificate ls-1 pins: once by default, once with --strict.
// Exits 0 only if every test of both runs passed (none failed, none skipped); 2 if it cannot run.
// Usage: npm run conformance        (SECURITY.md#conformance has the result and the exclusions: none)
//        node scripts/conformance.mjs --no-build   (the test suite: dist/ as built, like its other tests)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';

const root = new URL('..', import.meta.url).pathname;
const H2SPEC = join(root, '../shared/tools/h2spec/h2spec');
const EPS = join(root, 'dist/src/cli/eps.js');
const DEV = join(root, 'settings/dev');
/** The method that answers with a body (server-replies.ts), so the flow-control tests have data to hold. */
const PROBE_PATH = '/EPS/ConformanceProbe';
/** h2spec's wait for each expected frame, in seconds: ample for a loaded machine, short when tests fail. */
const H2SPEC_TIMEOUT_S = 3;
const SERVER_START_MS = 30_000;
const RUN_MS = 240_000;

/** The summary h2spec ends with: "N tests, P passed, S skipped, F failed". */
const SUMMARY = /(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed/;

function fail(code, message) {
  console.error(message);
  process.exit(code);
}

if (!existsSync(H2SPEC)) {
  fail(2, `SKIPPED: h2spec conformance — ${relative(root, H2SPEC)} not found`);
}

/** The newest modification time of the files under `dir`. */
function newest(dir) {
  let latest = 0;
  for (const name of readdirSync(dir)) {
    const info = statSync(join(dir, name));
    latest = Math.max(latest, info.isDirectory() ? newest(join(dir, name)) : info.mtimeMs);
  }
  return latest;
}

function run(command, args) {
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) fail(2, `conformance: ${command} ${args.join(' ')} failed`);
}

if (process.argv.includes('--no-build')) {
  if (!existsSync(EPS)) fail(2, 'conformance: dist/ is missing; run npm run build first');
} else if (!existsSync(EPS) || statSync(EPS).mtimeMs < newest(join(root, 'src'))) {
  console.log('conformance: building (dist/ is older than src/)');
  run('npm', ['run', 'build', '--silent']);
}
run(process.execPath, [join(root, 'dist/src/cli/certs.js'), '--if-missing']);

const work = mkdtempSync(join(tmpdir(), 'eps-conformance-'));
// ls-1's gRPC server alone, on a free port, reading the dev directory records (which pin hd-1) from disk.
writeFileSync(
  join(work, 'eps.yml'),
  [
    'name: ls-1',
    'directory:',
    '  type: json',
    `  settings: { path: '${DEV}/directory' }`,
    'channels:',
    '  - name: gRPC server under test',
    '    type: grpc_server',
    '    settings:',
    "      bind_address: '127.0.0.1:0'",
    '      conformance_probe: true',
    '      tls:',
    `        ca_certificate_files: ['${DEV}/certs/root.crt']`,
    `        certificate_file: '${DEV}/certs/ls-1.crt'`,
    `        key_file: '${DEV}/certs/ls-1.key'`,
    '',
  ].join('\n'),
);

/** Starts `eps server run`; resolves with the child and its gRPC port once it listens. */
function startServer() {
  const child = spawn(process.execPath, [EPS, 'server', 'run'], {
    cwd: root,
    env: { ...process.env, EPS_SETTINGS: join(work, 'eps.yml') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`eps did not listen in time:\n${output}`)),
      SERVER_START_MS,
    );
    const onData = (chunk) => {
      output += chunk;
      const m = /gRPC server listening" address=[^\s]*:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`eps exited (code ${code}) before listening:\n${output}`));
    });
  });
}

/** One h2spec run; resolves with its output and summary (undefined if it printed none). */
function h2spec(port, mode) {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', '-k'];
  args.push('--cert-file', `${DEV}/certs/hd-1.crt`, '--cert-key-file', `${DEV}/certs/hd-1.key`);
  args.push('-P', PROBE_PATH, '-o', String(H2SPEC_TIMEOUT_S), '-j', join(work, `h2spec-${mode}.xml`));
  if (mode === 'strict') args.push('--strict');
  const child = spawn(H2SPEC, args, {
    env: { ...process.env, H2SPEC_GRPC: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const m = SUMMARY.exec(output);
      const summary = m && { tests: +m[1], passed: +m[2], skipped: +m[3], failed: +m[4] };
      resolve({ mode, code, output, summary });
    });
  });
}

async function stopServer(server) {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

let server;
let allPassed = false;
try {
  server = await startServer();
  const results = [];
  for (const mode of ['default', 'strict']) results.push(await h2spec(server.port, mode));
  allPassed = true;
  for (const r of results) {
    const s = r.summary;
    const passed = s && s.tests > 0 && s.passed === s.tests && s.failed === 0 && s.skipped === 0;
    if (!passed) {
      allPassed = false;
      // Failures and skips, as h2spec lists them (each with its test number and what it expected).
      const failures = r.output.indexOf('Failures:');
      console.log(failures >= 0 ? r.output.slice(failures) : r.output);
    }
    const line = s
      ? `${s.tests} tests, ${s.passed} passed, ${s.skipped} skipped, ${s.failed} failed`
      : 'no summary';
    console.log(`h2spec ${r.mode}: ${line}${passed ? '' : ` (exit code ${r.code})`}`);
  }
  if (server.child.exitCode !== null) {
    allPassed = false;
    console.log(`the eps server died during the run:\n${server.output()}`);
  }
} catch (e) {
  console.error(`conformance: ${e instanceof Error ? e.message : String(e)}`);
} finally {
  if (server) await stopServer(server);
  rmSync(work, { recursive: true, force: true });
}
console.log(`h2spec conformance: ${allPassed ? 'PASSED' : 'FAILED'}`);
process.exit(allPassed ? 0 : 1);
