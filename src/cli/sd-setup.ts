#!/usr/bin/env node
/**
 * `npm run sd-setup [DIR]` / `make sd-setup`: uploads a directory of change-record files to a running SD, like
 * the original's `.scripts/sd_setup.sh` [docs/operations.md#record-tools], but from DIR itself (the original
 * always read settings/dev/directory). Generates the dev certificates (and 002_certificates.json) first when
 * missing, waits for the SD to answer, then submits every `*.json` of DIR in name order with the settings of
 * settings/dev/roles/hd-1 (the sd-admin), the first file as a new root (--reset). `--root DIR` takes
 * settings/ from DIR instead of the package (the demo's `--dir`).
 */
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { configureLogging, parseLevel } from '../core/log.js';
import { SdRpcError } from '../directory/api-errors.js';
import { SdApiClient } from '../directory/sd-api-client.js';
import { RecordToolError } from '../records-tools/errors.js';
import { requireApiDirectory, submitRecordFiles } from '../records-tools/submit.js';
import {
  describeSettingsError,
  loadEpsSettings,
  SettingsError,
  type EpsSettings,
} from '../settings/index.js';
import { ensureCertificates, type CertificateEnvironment } from '../tls/ensure-certs.js';
import { errorMessage } from '../core/errors.js';
import { SetupError } from './sd-setup-error.js';

/** How long to wait for the SD to answer `getTip` by default. */
export const DEFAULT_WAIT_SECONDS = 10;
/** Pause between attempts while waiting for the SD. */
export const WAIT_POLL_MS = 250;

/** The repository root: the nearest folder above this file holding package.json and settings/. */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      if (statSync(join(dir, 'package.json')).isFile() && statSync(join(dir, 'settings')).isDirectory())
        return dir;
    } catch {
      // keep looking upwards
    }
    const parent = dirname(dir);
    if (parent === dir) throw new SetupError('cannot find the repository root (package.json with settings/)');
    dir = parent;
  }
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function waitForSd(settings: EpsSettings, seconds: number): Promise<void> {
  const client = new SdApiClient(requireApiDirectory(settings));
  const target = client.currentTarget.endpoint;
  const deadline = Date.now() + seconds * 1000;
  let lastError: string;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const tip = await client.getTip();
        say(
          `service directory at ${client.currentTarget.endpoint} answers (tip: ${tip?.hash ?? 'none, empty'})`,
        );
        return;
      } catch (err) {
        if (err instanceof SdRpcError)
          throw new SetupError(`the service directory refused getTip: ${err.message}`);
        lastError = errorMessage(err);
      }
      if (Date.now() >= deadline) break;
      if (attempt === 0) say(`waiting up to ${seconds}s for the service directory at ${target}...`);
      await delay(WAIT_POLL_MS);
    }
  } finally {
    client.close();
  }
  throw new SetupError(
    `the service directory did not answer within ${seconds}s (is \`sd run\` started?): ${lastError}`,
  );
}

interface SetupOptions {
  settings?: string;
  root?: string;
  wait: string;
}

async function setup(dirArg: string | undefined, opts: SetupOptions): Promise<void> {
  const root = opts.root === undefined ? findRepoRoot() : resolve(opts.root);
  const dir = resolve(dirArg ?? join(root, 'settings/dev/directory'));
  const locations = opts.settings ?? join(root, 'settings/dev/roles/hd-1');
  const waitSeconds = Number(opts.wait);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0)
    throw new SetupError('--wait must be a number of seconds');

  const environments: CertificateEnvironment[] = ['dev'];
  if (!relative(join(root, 'settings/test'), dir).startsWith('..')) environments.push('test');
  for (const env of environments) {
    const certs = await ensureCertificates(root, env);
    say(`${env} certificates: ${certs.action === 'generated' ? 'generated' : 'present'} (${certs.certsDir})`);
  }

  let settings: EpsSettings;
  try {
    settings = await loadEpsSettings(locations, { cwd: root });
  } catch (err) {
    if (err instanceof SettingsError) throw new SetupError(describeSettingsError(err));
    throw err;
  }
  requireApiDirectory(settings, 'sd-setup needs the settings of');

  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => n.endsWith('.json') && statSync(join(dir, n)).isFile())
      .sort();
  } catch (err) {
    throw new SetupError(`cannot list '${dir}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (names.length === 0) throw new SetupError(`no *.json record files in '${dir}'`);

  await waitForSd(settings, waitSeconds);
  for (const [i, name] of names.entries()) {
    const file = join(dir, name);
    say(`Importing ${relative(process.cwd(), file) || file}${i === 0 ? ' (new root, --reset)' : ''}...`);
    const result = await submitRecordFiles(settings, [file], { reset: i === 0 });
    const tip = result.records[result.records.length - 1]?.hash ?? '';
    say(`  ${result.records.length} records submitted to ${result.endpoint}, tip ${tip}`);
  }
  say(
    `done: ${names.length} file(s) from ${dir.split(sep).slice(-3).join('/')} submitted as operator ${settings.name}`,
  );
}

const program = new Command('sd-setup')
  .description('submit the dev directory records (every *.json of DIR, in name order) to a running sd-1')
  .argument('[dir]', 'folder of record files (default settings/dev/directory)')
  .option(
    '--settings <locations>',
    'EPS settings of the submitting sd-admin (default settings/dev/roles/hd-1)',
  )
  .option('--root <dir>', 'folder holding settings/dev and settings/test (default: the package)')
  .option('--wait <seconds>', 'how long to wait for the service directory', String(DEFAULT_WAIT_SECONDS))
  .option('--level <level>', 'log level', 'warn')
  .exitOverride()
  .action(async (dir: string | undefined, opts: SetupOptions & { level: string }) => {
    configureLogging({ level: parseLevel(opts.level), service: 'SD-SETUP' });
    await setup(dir, opts);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  const known = err instanceof SetupError || err instanceof RecordToolError || err instanceof SdRpcError;
  process.stderr.write(`sd-setup: ${known ? errorMessage(err) : String((err as Error).stack ?? err)}\n`);
  process.exit(1);
}
