/**
 * Build version reported by `version`, `--version` and `_ping`: the package version from package.json,
 * followed by the git commit when the program runs from a checkout (`0.1.0 (git 77174c4a1b2c)`); an
 * installed package prints the bare version. `EPS_VERSION` overrides both (e.g. for a distribution's
 * own build label).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Used when no package.json is found above this module (should not happen in a package or checkout). */
const UNKNOWN_VERSION = 'development';
/** Bound on the one `git rev-parse` a checkout costs at start. */
const GIT_TIMEOUT_MS = 2000;

/** The folder holding this program's package.json (the checkout or the installed package). */
export function packageRoot(startDir: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = startDir; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

function packageVersion(root: string): string {
  try {
    const parsed = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof parsed.version === 'string' ? parsed.version : UNKNOWN_VERSION;
  } catch {
    return UNKNOWN_VERSION;
  }
}

/** The short commit of a checkout, or undefined (no .git, no git program, not a repository). */
function gitCommit(root: string): string | undefined {
  if (!existsSync(join(root, '.git'))) return undefined;
  try {
    const out = execFileSync('git', ['-C', root, 'rev-parse', '--short=12', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: GIT_TIMEOUT_MS,
    }).trim();
    return /^[0-9a-f]{4,40}$/.test(out) ? out : undefined;
  } catch {
    return undefined;
  }
}

export function describeVersion(root: string | undefined = packageRoot()): string {
  if (root === undefined) return UNKNOWN_VERSION;
  const version = packageVersion(root);
  const commit = gitCommit(root);
  return commit === undefined ? version : `${version} (git ${commit})`;
}

export const VERSION = process.env.EPS_VERSION || describeVersion();
