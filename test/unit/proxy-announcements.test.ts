/**
 * Announcement expiry parsing (docs/protocol.md#announcements), the bounded announcement table and its
 * replay from a real file datastore.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AnnouncementTable, AnnouncementTableFullError } from '../../src/proxy/shared/announcements.js';
import { AnnouncementStore, AnnouncementStoreError } from '../../src/proxy/shared/announcement-store.js';
import {
  ExpiresAtError,
  isExpired,
  MAX_ANNOUNCEMENT_LIFETIME_MS,
  parseExpiresAt,
  parseRfc3339,
  sameExpiry,
} from '../../src/proxy/shared/expires-at.js';
import { tempStore } from '../helpers/proxy-fixtures.js';

describe('expires_at', () => {
  it('keeps the original offset, prints a zero offset as Z and trims the fraction like Go', () => {
    assert.equal(parseRfc3339('2021-10-08T12:00:00+02:00').text, '2021-10-08T12:00:00+02:00');
    assert.equal(parseRfc3339('2021-10-08T12:00:00.500000+02:00').text, '2021-10-08T12:00:00.5+02:00');
    assert.equal(parseRfc3339('2021-10-08T12:00:00.000Z').text, '2021-10-08T12:00:00Z');
    assert.equal(parseRfc3339('2021-10-08T12:00:00+00:00').text, '2021-10-08T12:00:00Z');
    assert.equal(parseRfc3339('2021-10-08T12:00:00.1234567891Z').text, '2021-10-08T12:00:00.123456789Z');
  });

  it('compares instants, not texts', () => {
    assert.ok(sameExpiry(parseRfc3339('2021-10-08T12:00:00+02:00'), parseRfc3339('2021-10-08T10:00:00Z')));
    assert.ok(!sameExpiry(parseRfc3339('2021-10-08T12:00:00Z'), parseRfc3339('2021-10-08T12:00:00.001Z')));
    assert.ok(sameExpiry(null, null));
    assert.ok(!sameExpiry(null, parseRfc3339('2021-10-08T12:00:00Z')));
  });

  it('rejects what Go RFC 3339 parsing rejects', () => {
    for (const bad of [
      '2021-10-08 12:00:00Z',
      '2021-10-08t12:00:00Z',
      '2021-10-08T12:00:00',
      '2021-02-29T00:00:00Z',
      '2021-13-01T00:00:00Z',
      '2021-10-08T24:00:00Z',
      '2021-10-08T12:00:60Z',
      '2021-10-08T12:00:00+24:00',
      '2021-10-08T12:00:00.Z',
    ]) {
      assert.throws(() => parseRfc3339(bad), ExpiresAtError, bad);
    }
    assert.equal(parseRfc3339('2024-02-29T00:00:00Z').text, '2024-02-29T00:00:00Z');
  });

  it('accepts null, "", the past and up to 7 days ahead; refuses later and non-strings', () => {
    const now = Date.parse('2021-10-01T00:00:00Z');
    assert.equal(parseExpiresAt(null, now), null);
    assert.equal(parseExpiresAt(undefined, now), null);
    assert.equal(parseExpiresAt('', now), null);
    assert.ok(parseExpiresAt('2000-01-01T00:00:00Z', now));
    assert.ok(parseExpiresAt(new Date(now + MAX_ANNOUNCEMENT_LIFETIME_MS).toISOString(), now));
    assert.throws(
      () => parseExpiresAt(new Date(now + MAX_ANNOUNCEMENT_LIFETIME_MS + 1).toISOString(), now),
      /7 days/,
    );
    assert.throws(() => parseExpiresAt(12, now), ExpiresAtError);
    assert.ok(isExpired(parseRfc3339('2021-09-30T23:59:59Z'), now));
    assert.ok(!isExpired(parseRfc3339('2021-10-01T00:00:01Z'), now));
    assert.ok(!isExpired(null, now));
  });
});

describe('announcement table', () => {
  const past = parseRfc3339('2000-01-01T00:00:00Z');

  it('routes to the first non-expired entry, case-insensitively', () => {
    const table = new AnnouncementTable('public');
    table.upsert({ domain: 'Test.Example', owner: 'a', expiresAt: past });
    table.upsert({ domain: 'test.example', owner: 'b', expiresAt: null });
    assert.equal(table.route('TEST.example')?.owner, 'b');
    assert.equal(table.route('other.example'), undefined);
    assert.deepEqual(
      table.active().map((a) => a.owner),
      ['b'],
    );
  });

  it('reports created / updated / unchanged', () => {
    const table = new AnnouncementTable('private');
    assert.equal(table.upsert({ domain: 'x', owner: 'p', expiresAt: null }), 'created');
    assert.equal(table.upsert({ domain: 'x', owner: 'p', expiresAt: null }), 'unchanged');
    assert.equal(table.upsert({ domain: 'x', owner: 'p', expiresAt: past }), 'updated');
    assert.equal(
      table.upsert({ domain: 'x', owner: 'p', expiresAt: parseRfc3339('2000-01-01T01:00:00+01:00') }),
      'unchanged',
    );
  });

  it('is bounded: expired entries make room first, then new entries are refused', () => {
    const table = new AnnouncementTable('public', 2);
    table.upsert({ domain: 'a', owner: 'o', expiresAt: past });
    table.upsert({ domain: 'b', owner: 'o', expiresAt: null });
    table.upsert({ domain: 'c', owner: 'o', expiresAt: null });
    assert.equal(table.size, 2);
    assert.throws(
      () => table.upsert({ domain: 'd', owner: 'o', expiresAt: null }),
      AnnouncementTableFullError,
    );
    assert.equal(table.upsert({ domain: 'c', owner: 'o', expiresAt: past }), 'updated');
  });
});

describe('announcement store', () => {
  it('persists changes and replays them in order into a fresh table', async () => {
    const temp = tempStore();
    try {
      const table = new AnnouncementTable('private');
      const store = new AnnouncementStore(temp.store(), table);
      assert.equal(await store.load(), 0);
      const first = {
        domain: 'a.example',
        owner: 'public-proxy-1.ga',
        expiresAt: parseRfc3339('2030-01-01T00:00:00Z'),
      };
      await store.persist(first);
      await store.persist({ ...first, expiresAt: null });
      await store.close();

      const replayed = new AnnouncementTable('private');
      const again = new AnnouncementStore(temp.store(), replayed);
      assert.equal(await again.load(), 2);
      assert.deepEqual(replayed.all(), [
        { domain: 'a.example', owner: 'public-proxy-1.ga', expiresAt: null },
      ]);
      await again.close();

      // The other kind's entries (or garbage) abort the replay.
      const wrongKind = new AnnouncementStore(temp.store(), new AnnouncementTable('public'));
      await assert.rejects(wrongKind.load(), AnnouncementStoreError);
      await wrongKind.close();
    } finally {
      temp.cleanup();
    }
  });

  it('refuses undecodable entries', async () => {
    const temp = tempStore();
    try {
      const raw = temp.store();
      await raw.open();
      await raw.append([{ type: 1, id: randomBytes(16), data: Buffer.from('{"domain":1}') }]);
      await raw.close();
      const store = new AnnouncementStore(temp.store(), new AnnouncementTable('public'));
      await assert.rejects(store.load(), /lacks 'domain'/);
      await store.close();
    } finally {
      temp.cleanup();
    }
  });
});
