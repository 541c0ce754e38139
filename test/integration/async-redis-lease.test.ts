/**
 * One Redis store of asynchronous calls serves one eps instance (async/redis-lease.ts), with a real
 * redis-server: a second instance of the same operator is refused at start with a clear error; the lease
 * of an instance that stopped is free at once, that of one that died (never released) after its expiry,
 * or at once when it ran on this host and its process is gone (a restart after kill -9); a live holder's never.
 * An instance whose lease was lost writes nothing more, in any of its tables.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { LeaseWatch, placeOf } from '../../src/async/redis-lease.js';
import { RedisTableStore } from '../../src/async/redis-table-store.js';
import type { RedisDatastoreSettings } from '../../src/settings/datastore-schema.js';
import { redisSkip, startRedis, type RedisServer } from '../helpers/sd-harness.js';
import { waitFor } from '../helpers/wait.js';

const LEASE_MS = 400;
let redis: RedisServer | undefined;
let settings: RedisDatastoreSettings;

before(async () => {
  if (redisSkip) return;
  redis = await startRedis();
  settings = {
    addresses: [`127.0.0.1:${redis.port}`],
    password: '',
    database: 0,
    key: 'eps-lease-test',
    master_name: '',
  };
});

after(async () => {
  await redis?.stop();
});

const store = (name = 'hd-1', leaseMs = LEASE_MS): RedisTableStore =>
  new RedisTableStore(settings, name, 'pending', leaseMs);

/** Sets hd-1's lease as held by process `pid` of this host for `ms`. */
async function heldBy(pid: number, ms: number): Promise<void> {
  const client = new Redis({ port: redis!.port, host: '127.0.0.1', lazyConnect: true });
  try {
    await client.connect();
    await client.set('eps-lease-test:hd-1.lease', `${placeOf(pid)} 0123abcd`, 'PX', ms);
  } finally {
    client.disconnect();
  }
}

test(
  'a second eps instance on the same Redis store is refused at start, clearly',
  { skip: redisSkip },
  async () => {
    const first = store();
    await first.load();
    await first.put('k', { peer: 'ls-1' });
    // Renewed every third of the lease: still held well after one lease time.
    const second = store();
    const started = Date.now();
    await assert.rejects(second.load(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_ASYNC_STORE_IN_USE');
      assert.match(
        e.message,
        /another eps instance holds the Redis store .*one store serves one eps instance/,
      );
      return true;
    });
    assert.ok(Date.now() - started >= LEASE_MS, 'it waited for a lease that might have been expiring');
    await first.probe();
    // Another operator's node on the same Redis has a lease of its own.
    const other = store('ls-1');
    await other.load();
    await other.close();

    await first.close(); // released: the next instance starts at once
    const third = store();
    const loaded = await third.load();
    assert.deepEqual(loaded.get('k'), { peer: 'ls-1' });
    await third.close();
  },
);

test('the lease of an instance that died is taken over after it expires', { skip: redisSkip }, async () => {
  const dead = store();
  await dead.load();
  // A kill -9: no release, no renewal any more (the renewal timer goes with the process).
  const { lease } = (dead as unknown as { watch: LeaseWatch }).watch;
  lease!.release = async () => {};
  clearInterval((lease as unknown as { timer: NodeJS.Timeout }).timer);
  const next = store();
  await next.load();
  await next.probe();
  await next.close();
  await dead.close();
});

test(
  'a restart on the same host takes over the lease of its dead predecessor at once',
  { skip: redisSkip },
  async () => {
    // A process of this host that has ended: the holder a kill -9 leaves behind.
    const gone = spawn(process.execPath, ['-e', '']);
    await once(gone, 'exit');
    const longLease = 60_000;
    await heldBy(gone.pid!, longLease);
    const started = Date.now();
    const next = store('hd-1', longLease);
    await next.load();
    assert.ok(Date.now() - started < longLease / 2, 'taken over without waiting for the expiry');
    await next.probe();
    await next.close();
  },
);

test("a live process's lease is never taken over", { skip: redisSkip }, async () => {
  const alive = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    await heldBy(alive.pid!, 10 * LEASE_MS);
    await assert.rejects(store().load(), /another eps instance holds the Redis store .* pid=\d+/);
  } finally {
    alive.kill('SIGKILL');
    await once(alive, 'exit');
  }
});

test('once the lease is lost, no table of the instance writes any more', { skip: redisSkip }, async () => {
  const watch = new LeaseWatch();
  const pending = new RedisTableStore(settings, 'op-9', 'pending', LEASE_MS, watch);
  const outbox = new RedisTableStore(settings, 'op-9', 'outbox', undefined, watch);
  await pending.load();
  await outbox.load();
  await outbox.put('before', { peer: 'ls-1' });
  const client = new Redis({ port: redis!.port, host: '127.0.0.1', lazyConnect: true });
  try {
    await client.connect();
    // Another instance took the store (as after a pause longer than the lease).
    await client.set('eps-lease-test:op-9.lease', 'someone else', 'PX', 10 * LEASE_MS);
    await waitFor(() => watch.lease?.lost !== undefined, { timeoutMs: 5 * LEASE_MS, what: 'the lease lost' });
    for (const write of [
      () => outbox.put('after', { peer: 'ls-1' }),
      () => pending.put('after', { peer: 'ls-1' }),
      () => outbox.delete('before'),
    ])
      await assert.rejects(write(), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_ASYNC_STORE_IN_USE');
        assert.match(e.message, /lease .* was lost .* no longer writes/);
        return true;
      });
    assert.deepEqual(await client.hkeys('eps-lease-test:op-9.outbox'), ['before'], 'nothing written');
    assert.deepEqual(await client.hkeys('eps-lease-test:op-9.pending'), []);
  } finally {
    client.disconnect();
    await outbox.close();
    await pending.close();
  }
});
