/**
 * `sd run` with the Redis store in cluster mode (several addresses): a three-master Redis Cluster started
 * by the test. The list and its compare-and-append script live on one key, hence one slot; the sd must
 * follow the cluster's redirections whichever node it asks first, and replay the list after a restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
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

describe('sd run with the Redis store on a Redis Cluster', { skip: redisSkip }, () => {
  let dir: string;
  const nodes: RedisServer[] = [];
  let settings: string;
  let sd: RunningSd;
  let admin: Signer;
  let inspect: Cluster;

  before(async () => {
    await ensureTestPki();
    admin = loadSigner('hd-1-sign');
    dir = mkdtempSync(join(tmpdir(), 'sd-cluster-'));
    for (let i = 0; i < 3; i++) {
      nodes.push(await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000'] }));
    }
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(create.status, 0, create.stdout + create.stderr);
    inspect = new Cluster(nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
    await waitFor(async () => /cluster_state:ok/.test(String(await inspect.cluster('INFO'))), {
      timeoutMs: 20_000,
      what: 'the cluster is ready',
      intervalMs: 50,
    });
    settings = writeSdSettings(join(dir, 'sd'), {
      store: { type: 'redis', ports: nodes.map((n) => n.port), key: KEY },
    });
    sd = await startSd(settings);
  });

  after(async () => {
    await sd?.stop();
    inspect?.disconnect();
    for (const n of nodes) await n.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('records are stored on the node of their key and replayed after a restart', async () => {
    const root = sign([change('hd-1', 'groups', ['health-departments'])], '', admin);
    assert.equal((await sd.client.call('submitRecords', { records: root as never })).body.result, 'ok');
    const next = sign([change('ls-1', 'groups', [])], root[0]!.hash, admin);
    assert.equal((await sd.client.call('submitRecords', { records: next as never })).body.result, 'ok');
    const stale = sign([change('op-1', 'groups', [])], root[0]!.hash, admin);
    const refused = await sd.client.call('submitRecords', { records: stale as never });
    assert.notEqual(refused.body.result, 'ok', 'an append on an old parent is refused');
    assert.equal(await inspect.llen(KEY), 2);

    await sd.stop();
    sd = await startSd(settings);
    assert.deepEqual(
      (await sd.client.records()).map((r) => r.hash),
      [root[0]!.hash, next[0]!.hash],
    );
  });
});
