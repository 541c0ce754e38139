/**
 * Issue 13, /healthz and /readyz of `sd run` (a real process on a real redis-server): ready while the store
 * answers; when Redis is stopped, /readyz turns 503 naming the store and why, while /healthz stays 200;
 * ready again once Redis is back on its port.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopAll } from '../helpers/processes.js';
import {
  ensureTestPki,
  redisSkip,
  startRedis,
  startSd,
  writeSdSettings,
  type RedisServer,
  type RunningSd,
} from '../helpers/sd-harness.js';
import { check, getHealth, readyzUntil } from '../helpers/health-probe.js';

let dir: string;
let redis: RedisServer | undefined;
let sd: RunningSd | undefined;

before(async () => {
  await ensureTestPki();
  dir = mkdtempSync(join(tmpdir(), 'readiness-sd-'));
});

after(async () => {
  await sd?.stop();
  await stopAll();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test(
  'sd readyz: ready on a reachable Redis, 503 naming the store when it stops, ready again when it returns',
  { skip: redisSkip },
  async () => {
    redis = await startRedis();
    const redisPort = redis.port;
    const metricsPort = await freePort();
    sd = await startSd(
      writeSdSettings(join(dir, 'sd'), { store: { type: 'redis', port: redisPort }, metricsPort }),
    );

    const ready = await getHealth(metricsPort, '/readyz');
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.deepEqual(
      ready.body.checks.map((c) => [c.name, c.ok]),
      [
        ['settings', true],
        ['listeners', true],
        ['store', true],
      ],
    );
    assert.match(check(ready, 'store').detail, /redis.*read \d+\.\d s ago/);

    await redis.stop();
    const down = await readyzUntil(metricsPort, 503, '/readyz to report the stopped Redis');
    assert.equal(down.body.status, 'not ready');
    const store = check(down, 'store');
    assert.equal(store.ok, false);
    assert.match(store.detail, /redis.*(cannot read|no read for)/);
    assert.equal(check(down, 'listeners').ok, true);
    const alive = await getHealth(metricsPort, '/healthz');
    assert.equal(alive.status, 200);

    redis = await startRedis({ port: redisPort });
    const back = await readyzUntil(metricsPort, 200, '/readyz to be ready again with Redis back');
    assert.equal(check(back, 'store').ok, true);
  },
);
