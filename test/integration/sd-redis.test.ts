/**
 * `sd run` with the Redis store against a real redis-server started on a free port: the wire layout of the
 * list, a clear start-up error when Redis is unreachable, restart, and two sd processes on one
 * Redis list serving one directory whose chain never forks, even when both append on the same parent at once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { SignedChangeRecord } from '../../src/core/directory-entry.js';
import { freePort, runProgram, stopAll } from '../helpers/processes.js';
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
const RACE_ROUNDS = 10;
/** Longer than the store's command timeout, so commands time out while Redis is paused. */
const REDIS_PAUSE_MS = 3_000;

describe('sd run with the Redis store', { skip: redisSkip }, () => {
  let dir: string;
  let redis: RedisServer;
  let admin: Signer;
  let a: RunningSd;
  let b: RunningSd;
  let settingsB: string;
  let inspect: Redis;

  before(async () => {
    await ensureTestPki();
    admin = loadSigner('hd-1-sign');
    dir = mkdtempSync(join(tmpdir(), 'sd-redis-'));
    redis = await startRedis();
    inspect = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true });
    await inspect.connect();
    const store = { type: 'redis' as const, port: redis.port, key: KEY };
    [a, b] = await Promise.all([
      startSd(writeSdSettings(join(dir, 'a'), { store })),
      startSd((settingsB = writeSdSettings(join(dir, 'b'), { store }))),
    ]);
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await stopAll();
    inspect?.disconnect();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const tipOf = async (sd: RunningSd): Promise<string> =>
    ((await sd.client.result('getTip')) as SignedChangeRecord | undefined)?.hash ?? '';

  async function sameTip(expected: string): Promise<void> {
    await waitFor(async () => (await tipOf(a)) === expected && (await tipOf(b)) === expected, {
      timeoutMs: 5_000,
      what: `both sd processes at tip ${expected}`,
      intervalMs: 50,
    });
  }

  test('an unreachable Redis is a clear start-up error', async () => {
    const port = await freePort();
    const settings = writeSdSettings(join(dir, 'down'), { store: { type: 'redis', port } });
    const r = await runProgram('sd', ['run'], { SD_SETTINGS: settings });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /cannot open the datastore \(redis 127\.0\.0\.1:\d+ key sd-entries\).*PING failed/,
    );
  });

  test('records written through one sd are served by the other; the list holds encoded datastore entries', async () => {
    const root = sign(
      [change('hd-1', 'groups', ['health-departments']), change('ls-1', 'groups', [])],
      '',
      admin,
    );
    assert.equal((await a.client.call('submitRecords', { records: root as never })).body.result, 'ok');
    await sameTip(root[1]!.hash);
    assert.deepEqual(await b.client.records(), root);
    assert.deepEqual(
      await b.client.result('getEntry', { name: 'ls-1' }),
      await a.client.result('getEntry', { name: 'ls-1' }),
    );

    const items = await inspect.lrangeBuffer(KEY, 0, -1);
    assert.equal(items.length, 2);
    const first = items[0]!;
    assert.deepEqual([...first.subarray(0, 4)], [1, 1, 16, 0], 'version 1, type 1, id length 16');
    assert.deepEqual(JSON.parse(first.subarray(20).toString('utf8')), root[0]);
  });

  test('racing appends on the same parent through two sd processes: one wins, the other is stale', async () => {
    for (let round = 0; round < RACE_ROUNDS; round++) {
      const tip = await tipOf(a);
      await sameTip(tip);
      const fromA = sign([change('op-1', 'groups', [`a${round}`]), change('op-2', 'groups', [])], tip, admin);
      const fromB = sign([change('op-1', 'groups', [`b${round}`])], tip, admin);
      const replies = await Promise.all([
        a.client.call('submitRecords', { records: fromA as never }),
        b.client.call('submitRecords', { records: fromB as never }),
      ]);
      const ok = replies.filter((r) => r.body.result === 'ok');
      assert.equal(ok.length, 1, `round ${round}: ${JSON.stringify(replies.map((r) => r.body))}`);
      const loser = replies.find((r) => r.body.result !== 'ok')!;
      const error = loser.body.error as { code: number; message: string };
      assert.equal(error.code, -32603);
      assert.match(error.message, /stale append/);
      const winner = replies[0].body.result === 'ok' ? fromA : fromB;
      await sameTip(winner.at(-1)!.hash);
    }
    const records = await a.client.records();
    assert.deepEqual(await b.client.records(), records);
    records.forEach((r, i) =>
      assert.equal(r.parent_hash, i === 0 ? '' : records[i - 1]!.hash, 'linear chain'),
    );
    assert.equal(await inspect.llen(KEY), records.length, 'no losing record was stored');
  });

  test('a restarted sd replays the list into the same state', async () => {
    const records = await a.client.records();
    await b.stop();
    b = await startSd(settingsB);
    assert.deepEqual(await b.client.records(), records);
    assert.deepEqual(await b.client.result('getEntries'), await a.client.result('getEntries'));
  });

  test('while Redis does not answer, reads are served from memory and submissions fail clearly; then it recovers', async () => {
    const tip = await tipOf(a);
    await inspect.call('CLIENT', 'PAUSE', String(REDIS_PAUSE_MS), 'ALL');
    const paused = Date.now();
    assert.equal(await tipOf(a), tip, 'reads do not wait for Redis');
    const records = sign([change('during-outage', 'groups', [])], tip, admin);
    const reply = await a.client.call('submitRecords', { records: records as never });
    const error = reply.body.error as { code: number; message: string };
    assert.equal(error.code, -32603);
    assert.match(error.message, /^datastore error: .*Redis 127\.0\.0\.1:\d+ \(key sd-entries\)/);
    assert.ok(
      Date.now() - paused < REDIS_PAUSE_MS + 1_000,
      'the submission failed within the command timeout',
    );
    await waitFor(
      async () =>
        (await a.client.call('submitRecords', { records: records as never })).body.result === 'ok' ||
        (await tipOf(a)) === records[0]!.hash, // a timed-out write may still have landed
      { timeoutMs: REDIS_PAUSE_MS + 10_000, what: 'a submission after Redis answers again', intervalMs: 50 },
    );
    await sameTip(records[0]!.hash);
  });
});
