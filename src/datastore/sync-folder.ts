/**
 * fsync of a folder: a file just created, or renamed into place, survives a power loss only once the
 * folder's entry for it is on disk too (an fsync of the file alone does not write that entry).
 */
import { closeSync, constants, fsyncSync, openSync } from 'node:fs';

/** Makes the folder's entries (a created or renamed file) durable. */
export function syncFolder(folder: string): void {
  const fd = openSync(folder, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
