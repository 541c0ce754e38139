/**
 * `node dist/src/cli/certs.js [--if-missing] [--force] [--env dev|test]`: generates the development and test
 * PKIs (`settings/<env>/certs`, each its own CA) and their `settings/<env>/directory/002_certificates.json`.
 * Without --force an environment is only (re)generated when its certificates are missing, incomplete or
 * about to expire; --if-missing does the same but stays silent when there is nothing to do.
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  CERTIFICATE_ENVIRONMENTS,
  ensureCertificates,
  type CertificateEnvironment,
  type EnsureCertificatesResult,
} from '../tls/ensure-certs.js';
import { CodedError, errorMessage } from '../core/errors.js';

export { ensureCertificates } from '../tls/ensure-certs.js';
export type { CertificateEnvironment, EnsureCertificatesResult } from '../tls/ensure-certs.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const USAGE = 'usage: certs [--if-missing] [--force] [--env dev|test]';

export class CertsUsageError extends CodedError<'ERR_CLI_CERTS_USAGE'> {
  constructor(message: string) {
    super('ERR_CLI_CERTS_USAGE', message);
    this.name = 'CertsUsageError';
  }
}

/**
 * Repository root: the nearest folder above this module holding package.json (works for
 * `src/cli/certs.ts` under tsx and for the compiled `dist/src/cli/certs.js`).
 */
export function findRepoRoot(startDir: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = startDir; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'settings'))) return dir;
    if (dirname(dir) === dir) throw new CertsUsageError(`no repository root found above ${startDir}`);
  }
}

export interface CertsCliOptions {
  ifMissing: boolean;
  force: boolean;
  envs: CertificateEnvironment[];
}

export function parseCertsArgs(argv: readonly string[]): CertsCliOptions {
  let values: { 'if-missing'?: boolean; force?: boolean; env?: string };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        'if-missing': { type: 'boolean' },
        force: { type: 'boolean' },
        env: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new CertsUsageError(errorMessage(err));
  }
  if (values['if-missing'] && values.force)
    throw new CertsUsageError('--if-missing and --force exclude each other');
  const env = values.env;
  if (env !== undefined && !CERTIFICATE_ENVIRONMENTS.includes(env as CertificateEnvironment)) {
    throw new CertsUsageError(`--env must be one of ${CERTIFICATE_ENVIRONMENTS.join(', ')}, not '${env}'`);
  }
  return {
    ifMissing: values['if-missing'] === true,
    force: values.force === true,
    envs: env === undefined ? [...CERTIFICATE_ENVIRONMENTS] : [env as CertificateEnvironment],
  };
}

function describe(repoRoot: string, result: EnsureCertificatesResult): string {
  const where = relative(repoRoot, result.envDir) || result.envDir;
  if (result.action === 'kept') return `${where}: certificates present, nothing to do (use --force to renew)`;
  const gen = result.generated;
  const files = gen ? `${gen.fileCount} files` : 'files';
  const ms = gen ? ` in ${gen.durationMs} ms` : '';
  return `${where}: generated ${files} in ${relative(repoRoot, result.certsDir)} and ${relative(repoRoot, result.recordsFile)}${ms}`;
}

/** Where the command writes its lines; the process streams by default. */
export interface CertsCliOutput {
  out(line: string): void;
  err(line: string): void;
}

const PROCESS_OUTPUT: CertsCliOutput = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

/** Runs the command; returns the process exit status (0 ok, 1 generation failed, 2 usage error). */
export async function runCertsCli(
  argv: readonly string[],
  repoRoot: string = findRepoRoot(),
  output: CertsCliOutput = PROCESS_OUTPUT,
): Promise<number> {
  let options: CertsCliOptions;
  try {
    options = parseCertsArgs(argv);
  } catch (err) {
    output.err(`${errorMessage(err)}\n${USAGE}`);
    return EXIT_USAGE;
  }
  try {
    // Environments are generated one after the other: key generation already uses every core.
    for (const env of options.envs) {
      const result = await ensureCertificates(repoRoot, env, { force: options.force });
      if (result.action === 'generated' || !options.ifMissing) output.out(describe(repoRoot, result));
    }
    return 0;
  } catch (err) {
    output.err(`certificate generation failed: ${errorMessage(err)}`);
    return EXIT_FAILURE;
  }
}

function isMainModule(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  process.exitCode = await runCertsCli(process.argv.slice(2));
}
