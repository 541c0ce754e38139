/**
 * datastore/json-lines-file.ts: the folder is fsynced whenever a file entry appears in it (the first
 * append creates the file, a rewrite renames the temporary file into place, a new folder appears in its
 * parent), and never on an ordinary append. A power loss cannot be tested, so the folder sync is watched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLinesFile } from '../../src/datastore/json-lines-file.js';
import { syncFolder } from '../../src/datastore/sync-folder.js';

test('the folder is fsynced after the file is created and after a rewrite, not on later appends', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eps-jsonl-'));
  try {
    const synced: string[] = [];
    const folder = join(dir, 'state');
    const file = new JsonLinesFile(join(folder, 't.jsonl'), (f) => {
      syncFolder(f); // the real one too: it must work on a real folder
      synced.push(f);
    });
    file.append([{ a: 1 }]);
    assert.deepEqual(synced, [dir, folder], 'the new folder in its parent, the new file in its folder');
    file.append([{ a: 2 }]);
    assert.equal(synced.length, 2, 'an append to an existing file adds no entry');
    file.rewrite([{ a: 3 }]);
    assert.deepEqual(synced.slice(2), [folder], 'the rename is made durable');
    assert.deepEqual(file.load().values, [{ a: 3 }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
