/**
 * The node's own fingerprint in the directory (eps only): each TLS certificate the node presents must be
 * pinned in the directory it reads, or its peers refuse it. Read where the directory is local: the `json`
 * directory's files, or the `api` directory's state_file once written; otherwise reported as info.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isJsonObject } from '../core/json.js';
import type { OwnCertificate } from './certificates.js';
import { findingAt, type CheckContext, type Finding } from './finding.js';

/** Largest directory text read (bounds memory on a wrong path). */
export const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;

async function readDirectoryText(location: string): Promise<string> {
  const path = resolve(location);
  const files = (await stat(path)).isDirectory()
    ? (await readdir(path)).filter((name) => /\.jsonl?$/.test(name)).map((name) => join(path, name))
    : [path];
  let text = '';
  for (const file of files) {
    text += await readFile(file, 'utf8');
    if (text.length > MAX_DIRECTORY_BYTES)
      throw new Error(`directory larger than ${MAX_DIRECTORY_BYTES} bytes`);
  }
  return text.toLowerCase();
}

export async function checkOwnFingerprints(
  ctx: CheckContext,
  leaves: readonly OwnCertificate[],
): Promise<Finding[]> {
  const directory = ctx.tree.directory;
  if (!isJsonObject(directory) || !isJsonObject(directory.settings)) return [];
  const settings = directory.settings;
  const [key, location] =
    directory.type === 'json' ? ['path', settings.path] : ['state_file', settings.state_file];
  const at = ['directory', 'settings', key];
  if (typeof location !== 'string') {
    return [
      findingAt(ctx, ['directory'], 'info', 'no local copy of the directory: own fingerprint not checked'),
    ];
  }
  let text: string;
  try {
    text = await readDirectoryText(location);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (directory.type !== 'json' && code === 'ENOENT') {
      return [findingAt(ctx, at, 'info', `${location} not written yet: own fingerprint not checked`)];
    }
    return [
      findingAt(
        ctx,
        at,
        'error',
        `cannot read the directory ${location}: ${error instanceof Error ? error.message : String(error)}`,
      ),
    ];
  }
  const seen = new Set<string>();
  const findings: Finding[] = [];
  for (const leaf of leaves) {
    if (leaf.signing || seen.has(leaf.fingerprint)) continue;
    seen.add(leaf.fingerprint);
    if (!text.includes(leaf.fingerprint)) {
      findings.push(
        findingAt(
          ctx,
          leaf.path,
          'error',
          `fingerprint ${leaf.fingerprint} not in the directory ${location}`,
        ),
      );
    }
  }
  return findings;
}
