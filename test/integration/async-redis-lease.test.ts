/**
 * The lease of a Redis store of asynchronous calls (async/redis-lease.ts, async/lease-keeper.ts) with a
 * real redis-server: one instance of an operator holds it (active), another is told who does (standby) and
 * may not write; a holder that died is replaced after its lease expired (measured), or at once when it ran
 * on this host and its process is gone (a restart after kill -9); a live holder's lease is never taken.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { systemClock } from '../../src/core/clock.js';
import { LeaseKeeper, STANDBY_POLL_MS } from '../../src/async/lease-keeper.js';
import { placeOf, RedisLease } from '../../src/async/redis-lease.js';
import { leaseFence, RedisTableStore } from '../../src/async/redis-table-store.js';
import type { RedisDatastoreSettings } from '../../src/settings/datastore-schema.js';
import { redisSettings, redisSkip, startRedis, type RedisServer } from '../helpers/sd-harness.js';
import { waitFor } from '../helpers/wait.js';

/** The shortest lease the settings allow (1 s): the takeover below is measured against it. */
const LEASE_MS = 1000;
let redis: RedisServer | undefined;
let settings: RedisDatastoreSettings;

before(async () => {
  if (redisSkip) return;
  redis = await startRedis();
  settings = redisSettings(redis, 'eps-lease-test');
});

after(async () => {
  await redis?.stop();
});

/** Sets hd-1's lease as held by process `pid` of this host for `ms`. */
async function heldBy(pid: number, ms: number): Promise<void> {
  const client = new Redis({ port: redis!.port, host: '127.0.0.1', lazyConnect: true });
  try {
    await client.connect();
    await client.set('eps-lease-test:{hd-1}.lease', `${placeOf(pid)} 0123abcd`, 'PX', ms);
  } finally {
    client.disconnect();
  }
}

/** A keeper of hd-1's lease on the real Redis; `active` resolves when it becomes active. */
function keeper(leaseMs = LEASE_MS): { keeper: LeaseKeeper; lease: RedisLease; active: Promise<void> } {
  const lease = new RedisLease(settings, 'hd-1', leaseMs);
  let activated!: () => void;
  const active = new Promise<void>((resolve) => (activated = resolve));
  const k = new LeaseKeeper(lease, leaseMs, systemClock, {
    activate: async () => activated(),
    deactivate: () => undefined,
  });
  return { keeper: k, lease, active };
}

test(
  'a second instance is standby, may not write, and takes over within the lease time of a dead holder',
  { skip: redisSkip },
  async (t) => {
    const first = keeper();
    await first.keeper.start();
    assert.equal(first.keeper.role, 'active');
    const second = keeper();
    const guarded = new RedisTableStore(
      settings,
      'hd-1',
      'pending',
      leaseFence(second.lease, second.keeper),
      LEASE_MS,
    );
    await second.keeper.start();
    assert.equal(second.keeper.role, 'standby');
    assert.match(second.keeper.describe(), /^standby: .* held by host=\S+ pid=\d+$/);
    await guarded.load();
    await assert.rejects(guarded.put('k', { peer: 'ls-1' }), { code: 'ERR_ASYNC_STANDBY' });

    // The first dies (kill -9 on another host: no release, no renewal, its lease runs out).
    (first.lease as unknown as { release(): Promise<void> }).release = async () => {};
    const died = performance.now();
    await first.keeper.close();
    await second.active;
    const takeover = performance.now() - died;
    t.diagnostic(`takeover after the holder died: ${Math.round(takeover)} ms (lease ${LEASE_MS} ms)`);
    assert.ok(takeover >= LEASE_MS * 0.9, 'not before the lease of a live-looking holder ran out');
    assert.ok(takeover < LEASE_MS + 4 * STANDBY_POLL_MS + 1000, `took ${takeover} ms`);
    await guarded.put('k', { peer: 'ls-1' });
    await guarded.close();

    // A graceful stop releases the lease: the next instance takes it within one poll.
    const third = keeper();
    await third.keeper.start();
    assert.equal(third.keeper.role, 'standby');
    const released = performance.now();
    await second.keeper.close();
    await third.active;
    t.diagnostic(`takeover after a release: ${Math.round(performance.now() - released)} ms`);
    await third.keeper.close();
  },
);

test(
  'a restart on the same host takes over the lease of its dead predecessor at once',
  { skip: redisSkip },
  async () => {
    // A process of this host that has ended: the holder a kill -9 leaves behind.
    const gone = spawn(process.execPath, ['-e', '']);
    await once(gone, 'exit');
    const longLease = 60_000;
    await heldBy(gone.pid!, longLease);
    const next = keeper(longLease);
    const started = Date.now();
    await next.keeper.start();
    assert.equal(next.keeper.role, 'active');
    assert.ok(Date.now() - started < longLease / 2, 'taken over without waiting for the expiry');
    await next.keeper.close();
  },
);

test("a live process's lease is never taken over", { skip: redisSkip }, async () => {
  const alive = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    await heldBy(alive.pid!, 10 * LEASE_MS);
    const next = keeper();
    await next.keeper.start();
    assert.equal(next.keeper.role, 'standby');
    assert.match(next.keeper.describe(), new RegExp(`held by host=\\S+ pid=${alive.pid}$`));
    await next.keeper.close();
  } finally {
    alive.kill('SIGKILL');
    await once(alive, 'exit');
  }
});

test('once the lease is lost, no table of the instance writes any more', { skip: redisSkip }, async () => {
  const lost = keeper();
  await lost.keeper.start();
  const fence = leaseFence(lost.lease, lost.keeper);
  const pending = new RedisTableStore(settings, 'hd-1', 'pending', fence, LEASE_MS);
  const outbox = new RedisTableStore(settings, 'hd-1', 'outbox', fence, LEASE_MS);
  await pending.load();
  await outbox.load();
  await outbox.put('before', { peer: 'ls-1' });
  const client = new Redis({ port: redis!.port, host: '127.0.0.1', lazyConnect: true });
  try {
    await client.connect();
    // Another instance took the store (as after a pause longer than the lease).
    await client.set('eps-lease-test:{hd-1}.lease', 'someone else', 'PX', 10 * LEASE_MS);
    await waitFor(() => lost.keeper.role === 'standby', { timeoutMs: 5 * LEASE_MS, what: 'the lease lost' });
    for (const write of [
      () => outbox.put('after', { peer: 'ls-1' }),
      () => pending.put('after', { peer: 'ls-1' }),
      () => outbox.delete('before'),
    ])
      await assert.rejects(write(), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_ASYNC_STANDBY');
        assert.match(e.message, /^standby: the store of asynchronous calls is held by /);
        return true;
      });
    assert.deepEqual(await client.hkeys('eps-lease-test:{hd-1}.outbox'), ['before'], 'nothing written');
    assert.ok(!(await client.hkeys('eps-lease-test:{hd-1}.pending')).includes('after'), 'nothing written');
    await client.del('eps-lease-test:{hd-1}.lease', 'eps-lease-test:{hd-1}.outbox');
  } finally {
    client.disconnect();
    await outbox.close();
    await pending.close();
    await lost.keeper.close();
  }
});
