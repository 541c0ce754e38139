/**
 * Crash safety of `sd run` with the file store: kill -9 during a stream of submissions, then restart. Every
 * acknowledged record must be served again; a torn tail (here completed by appending half a chunk, which is
 * what a write cut short by the crash leaves) is dropped with a log line.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import type { SignedChangeRecord } from '../../src/core/directory-entry.js';
import { encodeChunks } from '../../src/datastore/chunks.js';
import { encodeEntry } from '../../src/datastore/entry-codec.js';
import { recordToEntry } from '../../src/sd/record-entry.js';
import { sdBed, startFileSd, type SdBed } from '../helpers/sd-file-store.js';
import { change, sign, startSd, type RunningSd } from '../helpers/sd-harness.js';

/** Submissions acknowledged before the kill. */
const ACKED_BEFORE_KILL = 25;

let bed: SdBed;

before(async () => {
  bed = await sdBed('sd-crash');
});

after(async () => {
  await bed?.cleanup();
});

test('kill -9 during submissions: acknowledged records survive, a torn tail is dropped with a log line', async () => {
  const admin = bed.admin;
  const first = await startFileSd(bed.dir, 'store');
  const { store: storeFile, settings } = first;
  let sd: RunningSd = first;

  const acked: SignedChangeRecord[] = [];
  let parent = '';
  let inFlight: Promise<unknown> | undefined;
  for (let i = 0; ; i++) {
    const records = sign([change(`op-${i}`, 'groups', [`g${i}`])], parent, admin);
    const call = sd.client.call('submitRecords', { records: records as never });
    if (i === ACKED_BEFORE_KILL) {
      // The next submission is on its way: kill the server while it handles it.
      inFlight = call.catch((err: Error) => err);
      sd.process.child.kill('SIGKILL');
      break;
    }
    const reply = await call;
    assert.equal(reply.body.result, 'ok', JSON.stringify(reply.body));
    acked.push(...records);
    parent = records[0]!.hash;
  }
  await inFlight;
  assert.equal(await sd.stop(), null, 'killed by a signal');

  // What a write cut short by the crash leaves: the first half of an entry's first chunk.
  const torn = encodeChunks(encodeEntry(recordToEntry(sign([change('x', 'groups', [])], parent, admin)[0]!)));
  appendFileSync(storeFile, torn.subarray(0, 100));

  sd = await startSd(settings);
  assert.match(sd.process.output(), /torn tail detected .*dropped 100 bytes after offset \d+/);
  const served = await sd.client.records();
  assert.ok(served.length >= acked.length, `${served.length} served, ${acked.length} acknowledged`);
  assert.deepEqual(served.slice(0, acked.length), acked, 'every acknowledged record, in order');
  served.forEach((r, i) => assert.equal(r.parent_hash, i === 0 ? '' : served[i - 1]!.hash));

  // The directory keeps working on top of the repaired file.
  const next = sign([change('after-crash', 'groups', [])], served.at(-1)!.hash, admin);
  assert.equal((await sd.client.call('submitRecords', { records: next as never })).body.result, 'ok');
  await sd.stop();

  sd = await startSd(settings);
  assert.doesNotMatch(sd.process.output(), /torn tail/);
  assert.deepEqual((await sd.client.records()).at(-1), next[0]);
  await sd.stop();
});
