/**
 * The tables' Redis client keeps no command for later (async/redis-table-store.ts): a write whose
 * connection broke before its answer fails, and is not sent again after the reconnect, when the lease it
 * was written under may have passed to another instance. Real Redis; the write is held by CLIENT PAUSE
 * WRITE and its connection killed by CLIENT KILL.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisTableStore, writeTimeoutMs, type StoreFence } from '../../src/async/redis-table-store.js';
import type { RedisDatastoreSettings } from '../../src/settings/datastore-schema.js';
import { redisSettings, redisSkip, startRedis, type RedisServer } from '../helpers/sd-harness.js';
import { waitFor } from '../helpers/wait.js';

const LEASE_MS = 10_000;
let redis: RedisServer | undefined;
let settings: RedisDatastoreSettings;

before(async () => {
  if (redisSkip) return;
  redis = await startRedis();
  settings = redisSettings(redis, 'no-replay');
});

/** The lease of hd-1, held by this test (set in Redis below) for the whole test. */
const fence: StoreFence = {
  key: 'no-replay:{hd-1}.lease',
  token: 'this test',
  guard: () => undefined,
  refused: () => new Error('the lease was not ours'),
};

after(async () => {
  await redis?.stop();
});

test(
  'a write cut off by a broken connection fails and is not sent again after the reconnect',
  { skip: redisSkip },
  async () => {
    const store = new RedisTableStore(settings, 'hd-1', 'pending', fence, LEASE_MS);
    const admin = new Redis({ port: redis!.port, host: '127.0.0.1', lazyConnect: true });
    try {
      await admin.connect();
      await admin.set(fence.key, fence.token);
      await store.load();
      await admin.client('PAUSE', 5000, 'WRITE');
      const write = store.put('late', { peer: 'ls-1' });
      const outcome = write.then(
        () => 'written',
        (e: unknown) => `failed: ${String(e)}`,
      );
      // The write (a script) reached Redis and waits there (paused); then its connection breaks.
      await waitFor(async () => String(await admin.client('LIST')).includes('cmd=eval'), {
        timeoutMs: 2000,
        what: 'the write held by the pause',
      });
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await admin.client('UNPAUSE');
      assert.match(await outcome, /^failed: /);
      // Reconnected (the client retries on its own): the write was not resent.
      await waitFor(
        () =>
          store.probe().then(
            () => true,
            () => false,
          ),
        { timeoutMs: 5000, what: 'the store reconnected' },
      );
      await store.put('now', { peer: 'ls-1' });
      assert.equal(
        await admin.hget('no-replay:{hd-1}.pending', 'late'),
        null,
        'not written after the reconnect',
      );
      assert.notEqual(await admin.hget('no-replay:{hd-1}.pending', 'now'), null);
    } finally {
      admin.disconnect();
      await store.close();
    }
  },
);

test('a command of the tables waits at most half the margin of the lease, and never more than 2 s', () => {
  assert.equal(writeTimeoutMs(1000), 166); // lease 1 s: writes stop at 667 ms, the lease may pass at 1 s
  assert.equal(writeTimeoutMs(10_000), 1666);
  assert.equal(writeTimeoutMs(300_000), 2000);
});
