/**
 * The short `sd-kill-9` of `npm run faults`: an sd with the file store killed with SIGKILL three times while
 * submissions stream in, restarted each time; no acknowledged record may be missing afterwards.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sdKillRounds } from '../../bench/faults/sd-kill.js';
import { stopAll } from '../helpers/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'eps-sd-kill-'));
after(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

test('sd kill -9 during submissions, 3 times: every acknowledged record is served after the restart', async () => {
  const f = await sdKillRounds(dir, 3, join(dir, 'sd.log'));
  assert.equal(f.kills, 3);
  assert.ok(f.acknowledged >= 3, `${f.acknowledged} acknowledged`);
  assert.equal(f.lost, 0, JSON.stringify(f));
});
