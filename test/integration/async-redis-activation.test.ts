/**
 * Activations of an instance on a real Redis store of asynchronous calls (async/async-calls.ts,
 * activation-fence.ts, redis-table-store.ts, redis-lease.ts): a call in flight across a lost and re-taken
 * lease writes nothing through the discarded tables; a write whose outcome is unknown has the tables loaded
 * again; a big table loads with a short lease; closing while loading leaves no connection open; a lease
 * holding a token of our own (a claim whose answer was lost) is ours again at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncCalls, type AsyncSettings } from '../../src/async/async-calls.js';
import { isTryLater } from '../../src/async/protocol.js';
import { RedisLease } from '../../src/async/redis-lease.js';
import type { EpsRequest, EpsResponse } from '../../src/core/messages.js';
import { FakeHost, settings as unitSettings } from '../helpers/async-fake-host.js';
import { redisForFile } from '../helpers/redis-admin.js';
import { redisSettings, redisSkip } from '../helpers/sd-harness.js';
import { waitFor } from '../helpers/wait.js';

const OTHER = 'host=elsewhere boot=b pidns=p pid=7 0a1b';
const ID = 'ls-1.locate(q-1)';
const shared = redisForFile();

/** hd-1 on the test Redis under `key`, with a lease of `lease` seconds. */
function instance(key: string, lease: number, patch: Partial<AsyncSettings> = {}) {
  const store = { type: 'redis' as const, settings: redisSettings(shared.server!, key), lease };
  const calls = new AsyncCalls('hd-1', unitSettings('', { store, ...patch }));
  const host = new FakeHost('hd-1');
  calls.attach(host);
  const keys = { lease: `${key}:{hd-1}.lease`, awaited: `${key}:{hd-1}.awaited` };
  return { calls, host, keys };
}

const answer = (): EpsRequest => ({
  method: 'hd-1._respond',
  id: 'r1',
  params: { id: ID, result: { found: true } },
});

test(
  'a call in flight across a lost and re-taken lease writes nothing through the discarded tables',
  { skip: redisSkip },
  async () => {
    const a = instance('stale-parts', 1);
    await shared.admin.hset(
      a.keys.awaited,
      ID,
      JSON.stringify({ peer: 'ls-1', expires: Date.now() + 60_000 }),
    );
    let handedIn!: () => void;
    const handed = new Promise<void>((resolve) => (handedIn = resolve));
    let release!: (r: EpsResponse) => void;
    a.host.backend = (r) => {
      handedIn();
      return new Promise((resolve) => (release = () => resolve({ id: r.id, result: {} })));
    };
    try {
      await a.calls.open();
      const reply = a.calls.receiveAnswer(answer(), 'ls-1');
      await handed;
      const record = await shared.admin.hget(a.keys.awaited, ID); // marked as being handed to our backend
      // Another instance takes the lease (a noticed at its renewal), then gives it back; a takes it again.
      await shared.admin.set(a.keys.lease, OTHER, 'PX', 3000);
      await waitFor(() => a.calls.storeStatus().role === 'standby', { timeoutMs: 3000, what: 'lost' });
      await shared.admin.del(a.keys.lease);
      await waitFor(() => a.calls.storeStatus().role === 'active', { timeoutMs: 3000, what: 'active again' });
      release({ id: 'x', result: {} });
      const response = await reply;
      assert.ok(isTryLater(response), `the sender keeps the answer: ${JSON.stringify(response)}`);
      assert.equal(await shared.admin.hget(a.keys.awaited, ID), record, 'Redis unchanged');
      assert.ok(a.calls.caller.table.get(ID), 'the reloaded tables still await the answer');
      assert.equal(a.calls.storeStatus().role, 'active');
    } finally {
      await a.calls.close();
      await shared.admin.del(a.keys.lease, a.keys.awaited);
    }
  },
);

test(
  'a write whose answer does not come in time: try later for the peer, the tables are loaded again',
  { skip: redisSkip },
  async () => {
    const a = instance('unknown-outcome', 3);
    await shared.admin.hset(
      a.keys.awaited,
      ID,
      JSON.stringify({ peer: 'ls-1', expires: Date.now() + 60_000 }),
    );
    // Our backend takes the answer; the write that follows waits in Redis longer than its timeout (500 ms).
    a.host.backend = async (r) => {
      await shared.admin.client('PAUSE', 1000, 'WRITE');
      return { id: r.id, result: {} };
    };
    try {
      await a.calls.open();
      const response = await a.calls.receiveAnswer(answer(), 'ls-1');
      assert.ok(isTryLater(response), JSON.stringify(response));
      assert.match(response.error!.message, /outcome of a write to the store is unknown/);
      await waitFor(() => a.calls.storeStatus().role === 'active', { timeoutMs: 5000, what: 'active again' });
      const stored = await shared.admin.hget(a.keys.awaited, ID);
      const held = a.calls.caller.table.get(ID);
      assert.deepEqual(
        held ?? null,
        stored === null ? null : JSON.parse(stored),
        'memory is what Redis holds',
      );
    } finally {
      await shared.admin.client('UNPAUSE');
      await a.calls.close();
      await shared.admin.del(a.keys.lease, a.keys.awaited);
    }
  },
);

test(
  'a table of 32 MB loads with a lease of 2 s (writes time out after 333 ms)',
  { skip: redisSkip },
  async () => {
    const a = instance('big-load', 2, {
      max_entries: 100_000,
      max_entries_per_peer: 100_000,
      max_bytes: 64 << 20,
      max_bytes_per_peer: 64 << 20,
    });
    const hash = 'big-load:{hd-1}.pending';
    for (let i = 0; i < 8; i++) {
      const fields: string[] = [];
      for (let j = 0; j < 4000; j++)
        fields.push(
          `ls-1\u0000k${i}-${j}`,
          JSON.stringify({
            peer: 'ls-1',
            method: 'hd-1.locate',
            expires: Date.now() + 60_000,
            pad: 'x'.repeat(1000),
          }),
        );
      await shared.admin.hset(hash, ...fields);
    }
    try {
      await a.calls.open();
      assert.equal(a.calls.storeStatus().role, 'active');
      assert.equal(a.calls.callee.table.size, 32_000);
    } finally {
      await a.calls.close();
      await shared.admin.del('big-load:{hd-1}.lease', hash);
    }
  },
);

test('closing while the tables load leaves no connection to Redis open', { skip: redisSkip }, async () => {
  const a = instance('close-load', 3);
  const clients = async (): Promise<string[]> =>
    String(await shared.admin.client('LIST'))
      .split('\n')
      .filter((line) => line !== '' && !line.includes('cmd=client'));
  assert.deepEqual(await clients(), [], 'only the admin connection');
  const opened = a.calls.open().then(
    () => 'opened',
    (e: Error) => e.message,
  );
  await waitFor(async () => (await shared.admin.exists(a.keys.lease)) === 1, {
    timeoutMs: 3000,
    what: 'claimed',
  });
  await a.calls.close();
  await opened;
  // A connection still being opened when close() ran is closed once open (within the open timeout).
  await waitFor(async () => (await clients()).length === 0, { timeoutMs: 6000, what: 'no client left' });
  assert.equal(await shared.admin.exists(a.keys.lease), 0, 'the lease was released');
});

test(
  'a lease holding a token of our own (a claim whose answer was lost) is ours again at once',
  {
    skip: redisSkip,
  },
  async () => {
    const lease = new RedisLease(redisSettings(shared.server!, 'own-token'), 'hd-1', 60_000);
    try {
      const first = await lease.claim();
      assert.ok(first.taken);
      // A later claim of ours landed, its answer lost: the lease holds a token we never learnt.
      const lost = `${first.token.slice(0, first.token.lastIndexOf('.') + 1)}0123456789abcdef`;
      await shared.admin.set(lease.key, lost, 'PX', 60_000);
      const again = await lease.claim();
      assert.ok(again.taken, `taken again without waiting for the expiry: ${JSON.stringify(again)}`);
      assert.notEqual(again.token, lost);
      assert.equal(await shared.admin.get(lease.key), again.token);
      await lease.release();
      assert.equal(await shared.admin.exists(lease.key), 0);
    } finally {
      await lease.close();
      await shared.admin.del(lease.key);
    }
  },
);
