/**
 * Makes sure an environment folder (`settings/dev`, `settings/test`) holds a complete, unexpired PKI in
 * `certs/` and its `directory/002_certificates.json`, generating both when needed. Generation happens in a
 * temporary folder that is swapped in afterwards, under a lock folder, so parallel callers (test files,
 * the demo, the CLI) never see half-written certificates and never generate twice.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { generateCertificates, type GeneratedCertificates } from './certgen.js';
import { CertificateGenerationError } from './certgen-verify.js';
import {
  CERTIFICATE_RECORDS_FILE,
  DAY_MS,
  expectedCertificateFiles,
  PKI_OPERATOR_NAMES,
} from './pki-plan.js';

export type CertificateEnvironment = 'dev' | 'test';
export const CERTIFICATE_ENVIRONMENTS: readonly CertificateEnvironment[] = ['dev', 'test'];

/** Certificates expiring sooner than this are treated as missing and regenerated. */
export const RENEW_BEFORE_EXPIRY_MS = DAY_MS;
/** How long to wait for another process's generation before giving up. */
export const LOCK_WAIT_TIMEOUT_MS = 120_000;
/** A lock older than this is considered left behind by a crashed process. */
export const LOCK_STALE_AFTER_MS = 300_000;
/** Interval between checks of a lock held by another process. */
export const LOCK_POLL_INTERVAL_MS = 100;

const LOCK_DIR = '.certs.lock';

export interface EnsureCertificatesOptions {
  /** Regenerate even when a complete PKI exists. */
  force?: boolean;
  /** Size of the RSA keys generated (generateCertificates); default RSA_MODULUS_BITS. */
  rsaModulusBits?: number;
}

export interface EnsureCertificatesResult {
  env: CertificateEnvironment;
  envDir: string;
  certsDir: string;
  recordsFile: string;
  /** `kept`: a complete PKI was already there; `generated`: this call (re)generated it. */
  action: 'kept' | 'generated';
  /** Set when action is `generated`. */
  generated?: GeneratedCertificates;
}

export function environmentDir(repoRoot: string, env: CertificateEnvironment): string {
  return join(repoRoot, 'settings', env);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * True when every expected key/certificate file and the record file exist and no certificate expires within
 * RENEW_BEFORE_EXPIRY_MS.
 */
export async function certificatesComplete(envDir: string, now: Date = new Date()): Promise<boolean> {
  const certsDir = join(envDir, 'certs');
  if (!(await exists(join(envDir, 'directory', CERTIFICATE_RECORDS_FILE)))) return false;
  const files = expectedCertificateFiles(PKI_OPERATOR_NAMES);
  if (!(await Promise.all(files.map((f) => exists(join(certsDir, f))))).every(Boolean)) return false;
  const deadline = now.getTime() + RENEW_BEFORE_EXPIRY_MS;
  try {
    const certificates = files.filter((f) => f.endsWith('.crt'));
    const contents = await Promise.all(certificates.map((f) => readFile(join(certsDir, f), 'utf8')));
    return contents.every((pem) => Date.parse(new X509Certificate(pem).validTo) > deadline);
  } catch {
    return false;
  }
}

async function acquireLock(lockDir: string): Promise<void> {
  const giveUpAt = Date.now() + LOCK_WAIT_TIMEOUT_MS;
  for (;;) {
    try {
      await mkdir(lockDir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const info = await stat(lockDir).catch(() => null);
    if (info && Date.now() - info.mtimeMs > LOCK_STALE_AFTER_MS) {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > giveUpAt) {
      throw new CertificateGenerationError(
        `timed out waiting for ${lockDir} (remove it if no generation runs)`,
      );
    }
    await delay(LOCK_POLL_INTERVAL_MS);
  }
}

async function generateAndSwap(envDir: string, rsaModulusBits?: number): Promise<GeneratedCertificates> {
  const certsDir = join(envDir, 'certs');
  const suffix = `${process.pid}-${Date.now()}`;
  const tmpDir = join(envDir, `.certs-new-${suffix}`);
  const oldDir = join(envDir, `.certs-old-${suffix}`);
  const tmpRecords = join(tmpDir, CERTIFICATE_RECORDS_FILE);
  const recordsFile = join(envDir, 'directory', CERTIFICATE_RECORDS_FILE);
  try {
    const generated = await generateCertificates({
      certsDir: tmpDir,
      recordsFile: tmpRecords,
      ...(rsaModulusBits === undefined ? {} : { rsaModulusBits }),
    });
    await mkdir(join(envDir, 'directory'), { recursive: true });
    if (await exists(certsDir)) await rename(certsDir, oldDir);
    await rename(tmpDir, certsDir);
    await rename(join(certsDir, CERTIFICATE_RECORDS_FILE), recordsFile);
    return { ...generated, certsDir, recordsFile };
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
    await rm(oldDir, { recursive: true, force: true });
  }
}

/** Generates `settings/<env>/certs` and its record file unless a complete PKI exists (or when forced). */
export async function ensureCertificates(
  repoRoot: string,
  env: CertificateEnvironment,
  options: EnsureCertificatesOptions = {},
): Promise<EnsureCertificatesResult> {
  const envDir = environmentDir(repoRoot, env);
  const base = {
    env,
    envDir,
    certsDir: join(envDir, 'certs'),
    recordsFile: join(envDir, 'directory', CERTIFICATE_RECORDS_FILE),
  };
  if (!options.force && (await certificatesComplete(envDir))) return { ...base, action: 'kept' };
  if (!(await exists(envDir))) {
    throw new CertificateGenerationError(`environment folder ${envDir} does not exist`);
  }
  const lockDir = join(envDir, LOCK_DIR);
  await acquireLock(lockDir);
  try {
    // Another process may have finished generating while we waited for the lock.
    if (!options.force && (await certificatesComplete(envDir))) return { ...base, action: 'kept' };
    const generated = await generateAndSwap(envDir, options.rsaModulusBits);
    return { ...base, action: 'generated', generated };
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
