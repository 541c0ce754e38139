/**
 * Where the demo runs: the package's own `settings/dev` (a checkout, or an installed package the user may
 * write to), or a folder the operator names with `--dir`, which receives a copy of the package's dev
 * settings on first use. The dev certificates and the stores' data files are written below
 * `<work>/settings/dev`, never shipped in the package.
 */
import { constants } from 'node:fs';
import { access, cp, mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CodedError } from '../core/errors.js';

export class DemoWorkspaceError extends CodedError<'ERR_DEMO_WORKSPACE'> {
  constructor(message: string) {
    super('ERR_DEMO_WORKSPACE', message);
  }
}

export interface DemoWorkspace {
  /** The package: bin/ launchers, dist/ and the shipped settings templates. */
  packageRoot: string;
  /** The folder holding `settings/dev` the network runs with (the cwd of every process). */
  workDir: string;
  /** True when this call copied the dev settings into workDir. */
  copied: boolean;
}

/** What is copied from the package: the role settings, the base records and their README (no certs, no data). */
const DEV_TEMPLATE_ENTRIES = ['roles', 'directory/001_base.json', 'README.md'] as const;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function writable(path: string): Promise<boolean> {
  return access(path, constants.W_OK).then(
    () => true,
    () => false,
  );
}

export async function prepareDemoWorkspace(packageRoot: string, dir?: string): Promise<DemoWorkspace> {
  const workDir = resolve(dir ?? packageRoot);
  const devDir = join(workDir, 'settings', 'dev');
  let copied = false;
  if (!(await exists(join(devDir, 'roles')))) {
    if (dir === undefined) {
      throw new DemoWorkspaceError(`${devDir} is missing; name a folder for the demo with --dir DIR`);
    }
    await mkdir(join(devDir, 'directory'), { recursive: true });
    for (const entry of DEV_TEMPLATE_ENTRIES) {
      await cp(join(packageRoot, 'settings', 'dev', entry), join(devDir, entry), {
        recursive: true,
        errorOnExist: false,
      });
    }
    copied = true;
  }
  if (!(await writable(devDir))) {
    throw new DemoWorkspaceError(
      `${devDir} is not writable (the demo writes its certificates and data there); ` +
        'run it with --dir DIR to use a copy of the dev settings in a folder of yours',
    );
  }
  return { packageRoot, workDir, copied };
}
