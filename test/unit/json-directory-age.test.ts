/**
 * Issue 13, eps_directory_age_seconds for the `json` directory backend (the `api` backend's is tested with
 * its refreshes): on a manual clock, the age is the time since the last check that read the directory
 * files without a problem — it stays 0 while the files are fine (changed or not), grows while a file is
 * broken (the last good entries are kept), and is 0 again once the file is fixed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonDirectory, RELOAD_CHECK_MS } from '../../src/directory/json-directory.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { metricValue } from '../helpers/metric-value.js';

const AT = '2021-05-17T10:00:00Z';
const records = (names: string[]): string =>
  JSON.stringify({
    records: names.map((name) => ({ name, section: 'groups', data: ['g'], created_at: AT })),
  });

test('json directory: age since the last good read of its files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'json-dir-age-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, '001.json');
  writeFileSync(file, records(['a']));
  const clock = new ManualClock();
  const directory = new JsonDirectory(dir, clock);
  await directory.start();
  t.after(() => directory.close());
  const age = (): Promise<number> => metricValue('eps_directory_age_seconds');

  assert.equal(await age(), 0);
  await clock.advance(3 * RELOAD_CHECK_MS);
  assert.equal(await age(), 0, 'unchanged files read fine on every check');

  writeFileSync(file, records(['a', 'b']));
  await clock.advance(RELOAD_CHECK_MS);
  assert.ok(directory.entry('b'), 'the change was read');
  assert.equal(await age(), 0);

  writeFileSync(file, '{"records": [ broken');
  await clock.advance(5 * RELOAD_CHECK_MS);
  assert.equal(await age(), 5, 'no good read for 5 s');
  assert.ok(directory.entry('b'), 'the last good entries are kept');

  writeFileSync(file, records(['c']));
  await clock.advance(RELOAD_CHECK_MS);
  assert.equal(await age(), 0);
  assert.ok(directory.entry('c'));
});
