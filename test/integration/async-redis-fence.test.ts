/**
 * The fence of the Redis store of asynchronous calls (async/redis-table-store.ts) with a real redis-server:
 * each write is a script that writes only while the lease key holds this instance's token. An instance
 * whose lease was taken by another (after it expired) while it still believes itself writable — a write
 * Redis executes late — writes nothing, fails with ERR_ASYNC_STANDBY and becomes standby at once. The
 * fences are production's (activation-fence.ts): one per activation, holding its claim's token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../src/core/clock.js';
import { LeaseKeeper } from '../../src/async/lease-keeper.js';
import { RedisLease } from '../../src/async/redis-lease.js';
import { activationFence } from '../../src/async/activation-fence.js';
import { RedisTableStore } from '../../src/async/redis-table-store.js';
import type { TableStore } from '../../src/async/table-store.js';
import type { RedisDatastoreSettings } from '../../src/settings/datastore-schema.js';
import { redisForFile } from '../helpers/redis-admin.js';
import { redisSettings, redisSkip } from '../helpers/sd-harness.js';
import { waitFor } from '../helpers/wait.js';

/** Long enough that no renewal comes during a test: only the fence can notice the takeover. */
const LEASE_MS = 30_000;
/** The token of the instance that took the lease (another host). */
const OTHER = 'host=elsewhere boot=b pidns=p pid=7 0a1b';
const HASH = 'fence-test:{hd-1}.pending';
let settings: RedisDatastoreSettings;
const redis = redisForFile((server) => (settings = redisSettings(server, 'fence-test')));

/** An active instance of hd-1 with its pending table loaded; `losses` collects why it went standby. */
async function activeInstance(): Promise<{
  lease: RedisLease;
  keeper: LeaseKeeper;
  store: TableStore;
  losses: string[];
  close(): Promise<void>;
}> {
  const lease = new RedisLease(settings, 'hd-1', LEASE_MS);
  const losses: string[] = [];
  const keeper = new LeaseKeeper(lease, LEASE_MS, systemClock, {
    activate: async () => undefined,
    deactivate: (why) => losses.push(why),
  });
  await keeper.start();
  assert.equal(keeper.role, 'active');
  const shared = new RedisTableStore(settings, 'hd-1', 'pending', LEASE_MS, 1 << 20);
  const store = shared.under(activationFence(keeper, () => true));
  await store.load();
  return {
    lease,
    keeper,
    store,
    losses,
    close: async () => {
      await shared.close();
      await keeper.close();
      await redis.admin.del(lease.key, HASH);
    },
  };
}

test('a write while the lease is ours lands', { skip: redisSkip }, async () => {
  const a = await activeInstance();
  try {
    await redis.admin.config('RESETSTAT');
    await a.store.put('k1', { peer: 'ls-1' });
    assert.deepEqual(JSON.parse((await redis.admin.hget(HASH, 'k1'))!), { peer: 'ls-1' });
    await a.store.delete('k1');
    assert.equal(await redis.admin.hget(HASH, 'k1'), null);
    assert.equal(a.keeper.role, 'active');
    // Both went through the fence: one script each (Redis counts the HSET / HDEL inside them as well).
    assert.match(await redis.admin.info('commandstats'), /^cmdstat_eval:calls=2,/m);
  } finally {
    await a.close();
  }
});

for (const [name, write] of [
  ['put', (store: TableStore) => store.put('k1', { peer: 'changed' })],
  ['delete', (store: TableStore) => store.delete('k1')],
] as const) {
  test(
    `a ${name} executed after another instance took the lease writes nothing; the writer goes standby`,
    { skip: redisSkip },
    async () => {
      const a = await activeInstance();
      try {
        await a.store.put('k1', { peer: 'ls-1' });
        const before = await redis.admin.hgetall(HASH);
        // B took the lease after A's expired; A has not noticed (no renewal yet): it is still writable.
        await redis.admin.set('fence-test:{hd-1}.lease', OTHER, 'PX', LEASE_MS);
        assert.ok(a.keeper.writable(), 'the local guard lets the write through');
        await assert.rejects(write(a.store), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'ERR_ASYNC_STANDBY');
          assert.match(e.message, /held by host=elsewhere pid=7; try the active instance/);
          return true;
        });
        assert.deepEqual(await redis.admin.hgetall(HASH), before, 'the hash is unchanged');
        assert.equal(a.keeper.role, 'standby', 'standby at once, without waiting for a renewal');
        assert.deepEqual(a.losses, [
          'a write was refused by the store: the lease is held by host=elsewhere pid=7',
        ]);
        assert.equal(a.keeper.holder, OTHER);
        // Standby now: the local guard refuses without sending anything.
        await assert.rejects(write(a.store), { code: 'ERR_ASYNC_STANDBY' });
        assert.equal(a.losses.length, 1, 'one change of state');
      } finally {
        await a.close();
      }
    },
  );
}

test('a write after the lease expired (held by nobody) writes nothing', { skip: redisSkip }, async () => {
  const a = await activeInstance();
  try {
    await redis.admin.del('fence-test:{hd-1}.lease');
    await assert.rejects(a.store.put('k2', { peer: 'ls-1' }), { code: 'ERR_ASYNC_STANDBY' });
    assert.equal(await redis.admin.hget(HASH, 'k2'), null);
    assert.deepEqual(a.losses, [
      'a write was refused by the store: the lease is held by nobody (it expired)',
    ]);
  } finally {
    await a.close();
  }
});

test(
  'a write sent under an earlier claim of the same instance is refused once it claimed again, and its refusal leaves the new claim active',
  { skip: redisSkip },
  async () => {
    const a = await activeInstance();
    const first = a.lease.token;
    try {
      // B holds the lease for a while (A notices at its next write), then releases it; A claims it again.
      await redis.admin.set(a.lease.key, OTHER, 'PX', LEASE_MS);
      await assert.rejects(a.store.put('k3', { peer: 'ls-1' }), { code: 'ERR_ASYNC_STANDBY' });
      await redis.admin.del(a.lease.key);
      await waitFor(() => a.keeper.role === 'active', { timeoutMs: 5000, what: 'A active again' });
      assert.notEqual(a.lease.token, first, 'a new token with the new claim');
      // The tables of the first activation (a call still in flight): the guard of production would stop
      // it before sending; here it lets it through, so that Redis alone decides.
      await assert.rejects(a.store.put('k3', { peer: 'late' }), { code: 'ERR_ASYNC_STANDBY' });
      assert.equal(await redis.admin.hget(HASH, 'k3'), null, 'the late write changed nothing');
      assert.equal(a.keeper.role, 'active', 'a refusal of an earlier claim does not stop the current one');
      assert.equal(a.losses.length, 1);
      const shared = new RedisTableStore(settings, 'hd-1', 'pending', LEASE_MS, 1 << 20);
      try {
        const now = shared.under(activationFence(a.keeper, () => true));
        await now.load();
        await now.put('k3', { peer: 'now' });
      } finally {
        await shared.close();
      }
      assert.deepEqual(JSON.parse((await redis.admin.hget(HASH, 'k3'))!), { peer: 'now' });
    } finally {
      await a.close();
    }
  },
);
