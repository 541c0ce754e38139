/**
 * The node's own certificates in the directory (eps only): each TLS certificate the node presents must be
 * pinned for its operator (an `encryption` certificate of the node's own entry), or its peers refuse it.
 * The directory is read as the node reads it at start: the `json` directory's files, or the `api`
 * directory's state file, verified again with the record-signing CAs. Where there is no local copy (no
 * state file, or not written yet) it is reported as info.
 */
import { stat } from 'node:fs/promises';
import type { DirectoryEntry } from '../core/directory-entry.js';
import { errorMessage } from '../core/errors.js';
import { isJsonObject } from '../core/json.js';
import { JsonDirectory } from '../directory/json-directory.js';
import { MirrorStateFile } from '../directory/mirror-state.js';
import { VerifiedMirror } from '../directory/verified-mirror.js';
import { loadRecordTrust } from '../directory/api-directory.js';
import type { ApiDirectorySettings } from '../settings/index.js';
import type { OwnCertificate } from './certificates.js';
import { findingAt, type CheckContext, type Finding } from './finding.js';

/** Largest state file read (bounds memory on a wrong path). */
export const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;

interface Entries {
  get(name: string): DirectoryEntry | undefined;
}

async function jsonEntries(path: string): Promise<Entries> {
  // Reads the files once (start throws on a bad one) and stops before its first reload.
  const directory = new JsonDirectory(path);
  await directory.start();
  await directory.close();
  return { get: (name) => directory.entry(name) };
}

async function stateFileEntries(settings: ApiDirectorySettings, file: string): Promise<Entries> {
  if ((await stat(file)).size > MAX_DIRECTORY_BYTES) {
    throw new Error(`larger than ${MAX_DIRECTORY_BYTES} bytes`);
  }
  const mirror = new VerifiedMirror(loadRecordTrust(settings));
  const { records } = new MirrorStateFile(file).load();
  await mirror.ingest(records); // throws when the records do not verify
  return mirror.entries();
}

export async function checkOwnFingerprints(
  ctx: CheckContext,
  leaves: readonly OwnCertificate[],
): Promise<Finding[]> {
  const directory = ctx.tree.directory;
  if (!isJsonObject(directory) || !isJsonObject(directory.settings)) return [];
  const settings = directory.settings;
  const json = directory.type === 'json';
  const [key, location] = json ? ['path', settings.path] : ['state_file', settings.state_file];
  const at = ['directory', 'settings', key];
  if (typeof location !== 'string') {
    return [
      findingAt(ctx, ['directory'], 'info', 'no local copy of the directory: own fingerprint not checked'),
    ];
  }
  let entries: Entries;
  try {
    entries = json
      ? await jsonEntries(location)
      : await stateFileEntries(settings as unknown as ApiDirectorySettings, location);
  } catch (error) {
    if (!json && (error as { code?: unknown }).code === 'ENOENT') {
      return [findingAt(ctx, at, 'info', `${location} not written yet: own fingerprint not checked`)];
    }
    return [findingAt(ctx, at, 'error', `cannot read the directory ${location}: ${errorMessage(error)}`)];
  }
  const name = typeof ctx.tree.name === 'string' ? ctx.tree.name : '';
  const own = entries.get(name);
  if (own === undefined) {
    return [findingAt(ctx, ['name'], 'error', `operator ${name} is not in the directory ${location}`)];
  }
  const pinned = new Set(
    own.certificates.filter((c) => c.key_usage === 'encryption').map((c) => c.fingerprint),
  );
  const seen = new Set<string>();
  const findings: Finding[] = [];
  for (const leaf of leaves) {
    if (leaf.signing || seen.has(leaf.fingerprint)) continue;
    seen.add(leaf.fingerprint);
    if (!pinned.has(leaf.fingerprint)) {
      findings.push(
        findingAt(
          ctx,
          leaf.path,
          'error',
          `fingerprint ${leaf.fingerprint} is not pinned for ${name} (as an encryption certificate) in the directory ${location}`,
        ),
      );
    }
  }
  return findings;
}
