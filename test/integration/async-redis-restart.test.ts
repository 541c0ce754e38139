/**
 * kill -9 of an eps whose asynchronous calls live in Redis (async/redis-lease.ts), with real processes and
 * a real redis-server: the restarted instance on the same host finds the lease of its dead predecessor and
 * takes it over at once instead of waiting for it to expire; what was queued before the kill is delivered.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../src/core/json.js';
import { AsyncPair } from '../helpers/async-pair.js';
import { redisSkip, startRedis } from '../helpers/sd-harness.js';

let pair: AsyncPair;

before(async () => {
  if (redisSkip) return;
  const redis = await startRedis();
  pair = await AsyncPair.start({
    running: ['hd-1'],
    store: {
      store: {
        type: 'redis',
        settings: { addresses: [`127.0.0.1:${redis.port}`], password: '', key: 'eps-restart-test' },
      },
      close: () => redis.stop(),
    },
  });
});

after(async () => {
  await pair?.close();
});

test(
  'a restart after kill -9 takes over its own lease; the queued request is delivered',
  { skip: redisSkip },
  async (t) => {
    const queued = await pair.marked('ls-1.locate', 'r-1');
    assert.equal(((queued.result as JsonObject)._async as JsonObject).queued, true, JSON.stringify(queued));
    await pair.stopNode('hd-1', 'SIGKILL');
    const started = performance.now();
    await pair.startNode('hd-1');
    t.diagnostic(`kill -9 -> hd-1 ready again: ${Math.round(performance.now() - started)} ms`);
    assert.match(pair.procs.get('hd-1')!.output(), /took over the lease of a previous instance on this host/);
    await pair.startNode('ls-1');
    await pair.drained('hd-1');
    assert.equal(pair.atLs('ls-1.locate(r-1)').length, 1);
  },
);
