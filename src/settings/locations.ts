/**
 * Turning a settings env var value into the ordered list of files to load (docs/settings.md#locations):
 * colon-separated locations, empty segments dropped, relative ones resolved against the working
 * directory; a directory contributes its immediate `.yml`/`.yaml`/`.json` files in byte order.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { settingsError } from './errors.js';
import { hasSettingsExtension } from './parse.js';

/** Separator between locations in EPS_SETTINGS / SD_SETTINGS / PROXY_SETTINGS. */
export const LOCATION_SEPARATOR = ':';

/** Splits and absolutises a locations value; empty or unset yields no locations. */
export function splitLocations(value: string | undefined, cwd: string = process.cwd()): string[] {
  if (value === undefined) return [];
  return value
    .split(LOCATION_SEPARATOR)
    .filter((segment) => segment !== '')
    .map((segment) => resolve(cwd, segment));
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function reason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return error instanceof Error ? error.message : String(error);
}

/**
 * The settings files of one location. Files reached through symbolic links count as files (so that
 * mounted config maps work); subdirectories are not descended into.
 */
export async function listLocationFiles(location: string): Promise<string[]> {
  let info;
  try {
    info = await stat(location);
  } catch (error) {
    throw settingsError(location, `cannot load settings location: ${reason(error)}`);
  }
  if (info.isFile()) {
    if (!hasSettingsExtension(location)) {
      throw settingsError(location, 'a settings file must end in .yml, .yaml or .json');
    }
    return [location];
  }
  if (!info.isDirectory())
    throw settingsError(location, 'settings location is neither a file nor a directory');
  let names: string[];
  try {
    names = await readdir(location);
  } catch (error) {
    throw settingsError(location, `cannot read settings directory: ${reason(error)}`);
  }
  const files: string[] = [];
  for (const name of names.filter(hasSettingsExtension).sort(byteOrder)) {
    const file = join(location, name);
    const entry = await stat(file).catch(() => undefined);
    if (entry?.isFile() === true) files.push(file);
  }
  return files;
}
