/**
 * Issue 13, /readyz of a real `eps server run` whose asynchronous calls live in a real redis-server: ready
 * while Redis answers PING; 503 naming the async store and the error once Redis is stopped, while /healthz
 * stays 200; ready again when Redis is back on its port.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/processes.js';
import { TestNetwork } from '../helpers/network.js';
import { redisSkip, startRedis, type RedisServer } from '../helpers/sd-harness.js';
import { check, getHealth, readyzUntil } from '../helpers/health-probe.js';

let net: TestNetwork | undefined;
let redis: RedisServer | undefined;

after(async () => {
  await net?.stop();
  await redis?.stop();
});

test(
  'eps readyz: a stopped Redis async store makes the node not ready, and ready again when it returns',
  { skip: redisSkip },
  async () => {
    redis = await startRedis();
    const redisPort = redis.port;
    const metricsPort = await freePort();
    const store = {
      type: 'redis',
      settings: { addresses: [`127.0.0.1:${redisPort}`], password: '', key: 'readyz' },
    };
    net = new TestNetwork([{ name: 'hd-1', grpcServer: true, metricsPort, async: { store } }]);
    await net.prepare();
    await net.start('hd-1');

    const ready = await getHealth(metricsPort, '/readyz');
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.deepEqual(check(ready, 'async-store'), {
      name: 'async-store',
      ok: true,
      detail: `async store redis 127.0.0.1:${redisPort} reachable`,
    });

    await redis.stop();
    const down = await readyzUntil(metricsPort, 503, '/readyz to report the stopped Redis');
    const failed = check(down, 'async-store');
    assert.equal(failed.ok, false);
    assert.match(failed.detail, new RegExp(`^async store redis 127\\.0\\.0\\.1:${redisPort}: `));
    assert.equal(check(down, 'directory').ok, true);
    assert.equal((await getHealth(metricsPort, '/healthz')).status, 200);

    redis = await startRedis({ port: redisPort });
    await readyzUntil(metricsPort, 200, '/readyz to be ready again with Redis back');
  },
);
