/**
 * `sd run` with the Redis store in Sentinel mode (`master_name` set, addresses = sentinels): a master, a
 * replica and a Sentinel started by the test; records go to the master, the master is killed, Sentinel
 * promotes the replica, and the sd carries on against the new master with nothing lost.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  change,
  ensureTestPki,
  loadSigner,
  redisSkip,
  sign,
  startRedis,
  startSd,
  writeSdSettings,
  type RedisServer,
  type RunningSd,
  type Signer,
} from '../helpers/sd-harness.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'sd-entries';

describe('sd run with the Redis store through Sentinel', { skip: redisSkip }, () => {
  let dir: string;
  let master: RedisServer;
  let replica: RedisServer;
  let sentinel: RedisServer;
  let sd: RunningSd;
  let admin: Signer;

  before(async () => {
    await ensureTestPki();
    admin = loadSigner('hd-1-sign');
    dir = mkdtempSync(join(tmpdir(), 'sd-sentinel-'));
    master = await startRedis();
    replica = await startRedis({
      args: ['--replicaof', '127.0.0.1', String(master.port)],
      ready: /MASTER <-> REPLICA sync: Finished with success/,
    });
    sentinel = await startRedis({
      sentinel: [
        `sentinel monitor eps-master 127.0.0.1 ${master.port} 1`,
        'sentinel down-after-milliseconds eps-master 1000',
        'sentinel failover-timeout eps-master 5000',
      ],
      ready: /\+monitor master eps-master/,
    });
    // The Sentinel learns about the replica from the master's INFO; only then can it promote it.
    await sentinel.waitFor(new RegExp(`\\+slave slave 127\\.0\\.0\\.1:${replica.port}`), 15_000);
    sd = await startSd(
      writeSdSettings(join(dir, 'sd'), {
        store: { type: 'redis', sentinelPorts: [sentinel.port], masterName: 'eps-master', key: KEY },
      }),
    );
  });

  after(async () => {
    await sd?.stop();
    await sentinel?.stop();
    await replica?.stop();
    await master?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('records survive a failover and the sd keeps accepting submissions on the new master', async () => {
    const root = sign([change('hd-1', 'groups', ['health-departments'])], '', admin);
    assert.equal((await sd.client.call('submitRecords', { records: root as never })).body.result, 'ok');
    const onReplica = new Redis({ host: '127.0.0.1', port: replica.port, lazyConnect: true });
    await onReplica.connect();
    try {
      await waitFor(async () => (await onReplica.llen(KEY)) === 1, {
        timeoutMs: 5_000,
        what: 'the record replicated',
        intervalMs: 50,
      });

      await master.stop('SIGKILL');
      await sentinel.waitFor(/\+switch-master eps-master/, 30_000);

      const next = sign([change('ls-1', 'groups', ['location-services'])], root[0]!.hash, admin);
      // The first submission after the switch may meet the dying connection; the sd must recover.
      await waitFor(
        async () => (await sd.client.call('submitRecords', { records: next as never })).body.result === 'ok',
        { timeoutMs: 20_000, what: 'a submission accepted by the new master', intervalMs: 50 },
      );
      assert.equal(await onReplica.llen(KEY), 2, 'both records on the promoted replica');
      const records = await sd.client.records();
      assert.deepEqual(
        records.map((r) => r.hash),
        [root[0]!.hash, next[0]!.hash],
      );
    } finally {
      onReplica.disconnect();
    }
  });
});
