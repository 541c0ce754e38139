/**
 * Test helpers for the settings tests: a temporary directory tree of real settings files, removed
 * again by the test that created it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { SettingsError } from '../../src/settings/index.js';

export interface TempTree {
  /** Absolute root of the tree. */
  readonly root: string;
  /** Absolute path of a file or folder inside the tree. */
  path(relative: string): string;
  /** Writes (or overwrites) files, creating folders as needed. */
  write(files: Record<string, string>): Promise<void>;
  remove(): Promise<void>;
}

export async function tempTree(files: Record<string, string> = {}): Promise<TempTree> {
  const root = await mkdtemp(join(tmpdir(), 'eps-settings-'));
  const tree: TempTree = {
    root,
    path: (relative) => join(root, relative),
    write: async (more) => {
      for (const [relative, text] of Object.entries(more)) {
        const file = join(root, relative);
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, text);
      }
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
  await tree.write(files);
  return tree;
}

/** Runs `fn` with a fresh tree and always removes the tree afterwards. */
export async function withTree<T>(
  files: Record<string, string>,
  fn: (tree: TempTree) => Promise<T>,
): Promise<T> {
  const tree = await tempTree(files);
  try {
    return await fn(tree);
  } finally {
    await tree.remove();
  }
}

/** A TLS block in YAML flow form pointing at `certs/<name>` relative to the file's directory. */
export function tlsYaml(name: string, certsDir = '$DIR/certs'): string {
  return (
    `{ca_certificate_files: ["/${certsDir}/root.crt"], certificate_file: "/${certsDir}/${name}.crt", ` +
    `key_file: "/${certsDir}/${name}.key"}`
  );
}

/** Awaits `promise` and asserts that it rejects with a SettingsError whose message has every fragment. */
export async function rejectsWith(promise: Promise<unknown>, ...fragments: string[]): Promise<SettingsError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SettingsError, `expected SettingsError, got ${String(error)}`);
    for (const fragment of fragments) {
      assert.ok(
        error.message.includes(fragment),
        `message ${JSON.stringify(error.message)} lacks ${fragment}`,
      );
    }
    return error;
  }
  assert.fail('expected a SettingsError');
}
