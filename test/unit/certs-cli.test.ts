// Tests of ensureCertificates (src/tls/ensure-certs.ts) and the certs command (src/cli/certs.ts) on a
// temporary repository root: generation on demand, concurrent callers, renewal and argument handling.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  CertsUsageError,
  ensureCertificates,
  type CertsCliOutput,
  findRepoRoot,
  parseCertsArgs,
  runCertsCli,
} from '../../src/cli/certs.js';
import { CertificateGenerationError } from '../../src/tls/certgen.js';
import { certificatesComplete } from '../../src/tls/ensure-certs.js';
import { fingerprintOfPem } from '../../src/tls/fingerprint.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const YEAR_MS = 365 * 24 * 60 * 60 * 1000;
/**
 * RSA key size of the generations here: what is tested is generation on demand, the lock, the swap and the
 * records, never a TLS handshake with these keys; 1024 bits take a fraction of the 2048-bit generation
 * (seconds on a loaded machine, twice per run). The real size and a handshake: certgen.test.ts.
 */
const SMALL = { rsaModulusBits: 1024 };

function capture(): CertsCliOutput & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(`out: ${l}`), err: (l) => lines.push(`err: ${l}`) };
}

describe('parseCertsArgs', () => {
  it('defaults to both environments without flags', () => {
    assert.deepEqual(parseCertsArgs([]), { ifMissing: false, force: false, envs: ['dev', 'test'] });
  });

  it('accepts --env, --force and --if-missing', () => {
    assert.deepEqual(parseCertsArgs(['--env', 'test', '--force']), {
      ifMissing: false,
      force: true,
      envs: ['test'],
    });
    assert.deepEqual(parseCertsArgs(['--if-missing', '--env=dev']), {
      ifMissing: true,
      force: false,
      envs: ['dev'],
    });
  });

  it('rejects unknown environments, unknown flags, positionals and contradictory flags', () => {
    for (const argv of [['--env', 'prod'], ['--fast'], ['dev'], ['--force', '--if-missing']]) {
      assert.throws(() => parseCertsArgs(argv), CertsUsageError, argv.join(' '));
    }
  });
});

describe('findRepoRoot', () => {
  it('finds the repository from the module location and from a nested folder', () => {
    assert.equal(findRepoRoot(), repoRoot);
    assert.equal(findRepoRoot(join(repoRoot, 'dist', 'src', 'cli')), repoRoot);
  });
});

describe('ensureCertificates on a fresh repository root', () => {
  let root: string;
  let envDir: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'eps-certs-cli-'));
    envDir = join(root, 'settings', 'dev');
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('refuses an environment folder that does not exist', async () => {
    await assert.rejects(ensureCertificates(root, 'test'), CertificateGenerationError);
  });

  it('generates once for concurrent callers and leaves no temporary folders behind', async () => {
    await mkdir(envDir, { recursive: true });
    assert.equal(await certificatesComplete(envDir), false);
    const results = await Promise.all([
      ensureCertificates(root, 'dev', SMALL),
      ensureCertificates(root, 'dev', SMALL),
    ]);
    assert.deepEqual(results.map((r) => r.action).sort(), ['generated', 'kept']);
    const generated = results.find((r) => r.action === 'generated');
    assert.ok(generated?.generated && generated.generated.durationMs > 0);
    console.log(`ensureCertificates generated in ${generated.generated.durationMs} ms`);
    assert.equal(await certificatesComplete(envDir), true);
    assert.deepEqual((await readdir(envDir)).sort(), ['certs', 'directory']);
    assert.deepEqual(await readdir(join(envDir, 'directory')), ['002_certificates.json']);
    const records = await readFile(join(envDir, 'directory', '002_certificates.json'), 'utf8');
    const hd1 = fingerprintOfPem(await readFile(join(envDir, 'certs', 'hd-1.crt'), 'utf8'));
    assert.ok(records.includes(hd1));
  });

  it('keeps a complete PKI, and the CLI with --if-missing succeeds without changing it', async () => {
    const before = await readFile(join(envDir, 'certs', 'root.crt'), 'utf8');
    assert.equal((await ensureCertificates(root, 'dev')).action, 'kept');
    const quiet = capture();
    assert.equal(await runCertsCli(['--if-missing', '--env', 'dev'], root, quiet), 0);
    assert.deepEqual(quiet.lines, []);
    const plain = capture();
    assert.equal(await runCertsCli(['--env', 'dev'], root, plain), 0);
    assert.deepEqual(plain.lines, [
      'out: settings/dev: certificates present, nothing to do (use --force to renew)',
    ]);
    assert.equal(await readFile(join(envDir, 'certs', 'root.crt'), 'utf8'), before);
  });

  it('treats certificates that expire soon as missing', async () => {
    assert.equal(await certificatesComplete(envDir, new Date(Date.now() + 2 * YEAR_MS)), false);
  });

  it('regenerates a new CA when a file is missing', async () => {
    const before = await readFile(join(envDir, 'certs', 'root.crt'), 'utf8');
    await rm(join(envDir, 'certs', 'hd-1.key'));
    assert.equal(await certificatesComplete(envDir), false);
    const result = await ensureCertificates(root, 'dev', SMALL);
    assert.equal(result.action, 'generated');
    assert.notEqual(await readFile(join(envDir, 'certs', 'root.crt'), 'utf8'), before);
    assert.equal(await certificatesComplete(envDir), true);
  });

  it('the CLI reports a usage error with status 2 and a failure with status 1', async () => {
    const usage = capture();
    assert.equal(await runCertsCli(['--env', 'nope'], root, usage), 2);
    assert.match(usage.lines.join('\n'), /^err: --env must be one of dev, test, not 'nope'\nusage: certs/);
    const failure = capture(); // settings/test does not exist under this root
    assert.equal(await runCertsCli(['--env', 'test'], root, failure), 1);
    assert.match(
      failure.lines.join('\n'),
      /^err: certificate generation failed: environment folder .* does not exist$/,
    );
  });
});

describe('certs command as a process', () => {
  it('exits 2 on a bad argument without touching anything', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'certs.ts'), '--env', 'x'],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 2);
    assert.match(stderr, /--env must be one of dev, test/);
  });
});
