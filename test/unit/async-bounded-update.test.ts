/**
 * A change of state of a record (async/bounded-table.ts `update`) is free within the STATE_SLACK_BYTES
 * the record was charged when added; growing beyond it is charged, and refused when it would pass a bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedTable, STATE_SLACK_BYTES, type PeerRecord } from '../../src/async/bounded-table.js';
import { MemoryTableStore } from '../../src/async/table-store.js';

interface Note extends PeerRecord {
  note: string;
}

const MAX_BYTES = 400;
const limits = {
  max_entries: 10,
  max_bytes: MAX_BYTES,
  max_entries_per_peer: 10,
  max_bytes_per_peer: MAX_BYTES,
};

test('an update within the slack is free; one growing past max_bytes is refused and changes nothing', async () => {
  const table = new BoundedTable<Note>(
    'pending',
    new MemoryTableStore(),
    limits,
    (v) => v as unknown as Note,
  );
  await table.load();
  await table.put('k', { peer: 'ls-1', note: '' });
  const charged = table.bytes;
  await table.update('k', { peer: 'ls-1', note: 'x'.repeat(STATE_SLACK_BYTES) });
  assert.equal(table.bytes, charged, 'within the slack: no more charged');

  const big = { peer: 'ls-1', note: 'x'.repeat(MAX_BYTES) };
  await assert.rejects(table.update('k', big), { code: 'ERR_ASYNC_FULL' });
  assert.equal(table.get('k')?.note.length, STATE_SLACK_BYTES, 'unchanged');
  assert.ok(table.bytes <= MAX_BYTES, `${table.bytes} bytes charged`);

  // Growth that fits is charged the difference.
  await table.update('k', { peer: 'ls-1', note: 'x'.repeat(STATE_SLACK_BYTES + 100) });
  assert.equal(table.bytes, charged + 100);
});
