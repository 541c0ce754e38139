/**
 * What an answer of Redis other than "done" does to the active instance (async/redis-table-store.ts,
 * async/redis-lease.ts), with a real redis-server: an error reply (OOM under `maxmemory`) is a definite
 * outcome (nothing written; the write fails with ERR_ASYNC_STANDBY, the instance stays active and writes
 * again once Redis has room), and the lease's commands wait no longer than a write does, so a link too slow
 * for the writes loses the lease too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncCalls } from '../../src/async/async-calls.js';
import { RedisLease } from '../../src/async/redis-lease.js';
import { writeTimeoutMs } from '../../src/async/redis-table-store.js';
import { FORCED_EXIT_MS } from '../../src/cli/common.js';
import type { EpsRequest } from '../../src/core/messages.js';
import { FakeHost, settings as asyncSettings } from '../helpers/async-fake-host.js';
import { redisForFile } from '../helpers/redis-admin.js';
import { redisSettings, redisSkip } from '../helpers/sd-harness.js';

const shared = redisForFile();

const ID = 'ls-1.locate(q-1)';
const ANSWER: EpsRequest = { method: 'hd-1._respond', id: 'r1', params: { id: ID, result: { found: true } } };

test(
  'an error reply (OOM) fails the write; the instance stays active and writes once Redis has room',
  { skip: redisSkip },
  async () => {
    const key = 'oom';
    const open = async (): Promise<AsyncCalls> => {
      const store = { type: 'redis' as const, settings: redisSettings(shared.server!, key), lease: 1 };
      const calls = new AsyncCalls('hd-1', asyncSettings('', { store }));
      calls.attach(new FakeHost('hd-1'));
      await calls.open();
      return calls;
    };
    const awaited = { peer: 'ls-1', expires: Date.now() + 600_000 };
    await shared.admin.hset(`${key}:{hd-1}.awaited`, ID, JSON.stringify(awaited));
    const a = await open();
    const b = await open();
    try {
      assert.equal(a.storeStatus().role, 'active');
      await shared.admin.config('SET', 'maxmemory-policy', 'noeviction');
      await shared.admin.config('SET', 'maxmemory', '1');
      const refused = await a.receiveAnswer(ANSWER, 'ls-1');
      assert.equal(refused.error?.code, 503, JSON.stringify(refused));
      assert.match(
        JSON.stringify(a.storeStatus().error),
        /the store refused the write \(.*OOM.*\); nothing was written/,
      );
      // Two lease times: still active (renewals go on under OOM), the standby still standby.
      for (let i = 0; i < 8; i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        assert.equal(a.storeStatus().role, 'active', `after ${(i + 1) * 250} ms`);
        assert.equal(b.storeStatus().role, 'standby');
      }
      await shared.admin.config('SET', 'maxmemory', '0');
      const delivered = await a.receiveAnswer(ANSWER, 'ls-1');
      assert.equal(delivered.error, undefined, JSON.stringify(delivered));
      assert.equal(a.storeStatus().role, 'active');
    } finally {
      await shared.admin.config('SET', 'maxmemory', '0');
      await a.close();
      await b.close();
    }
  },
);

test(
  'a command of the lease waits no longer than a write: a slow renewal fails',
  { skip: redisSkip },
  async () => {
    const leaseMs = 3000;
    const lease = new RedisLease(redisSettings(shared.server!, 'slow'), 'hd-1', leaseMs);
    try {
      assert.equal((await lease.claim()).taken, true);
      const pauseMs = 3 * writeTimeoutMs(leaseMs); // longer than a write may wait, shorter than 2 s
      await shared.admin.client('PAUSE', pauseMs, 'WRITE');
      const started = Date.now();
      await assert.rejects(lease.renew(), /renew of the lease .* failed: Command timed out/);
      assert.ok(Date.now() - started < pauseMs, 'rejected before Redis answered');
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      assert.equal(await lease.renew(), true);
    } finally {
      await lease.close();
    }
  },
);

test(
  'closing on a stalled Redis ends within the forced exit of a shutdown',
  { skip: redisSkip },
  async () => {
    // Tables of 16 MiB: a load may wait 6.2 s for Redis (loadTimeoutMs), and so did each table's QUIT.
    const store = { type: 'redis' as const, settings: redisSettings(shared.server!, 'stall'), lease: 10 };
    const calls = new AsyncCalls('hd-1', asyncSettings('', { store, max_bytes: 16 << 20 }));
    calls.attach(new FakeHost('hd-1'));
    await calls.open();
    assert.equal(calls.storeStatus().role, 'active');
    shared.server!.child.kill('SIGSTOP');
    try {
      const started = Date.now();
      await calls.close().catch(() => undefined); // the lease cannot be released: Redis does not answer
      const took = Date.now() - started;
      assert.ok(took < FORCED_EXIT_MS, `closed in ${took} ms`);
    } finally {
      shared.server!.child.kill('SIGCONT');
    }
  },
);
