/**
 * One real redis-server for a test file and an admin client to it (the test's own view of the store),
 * started before the file's tests and stopped after them; nothing when redis-server is missing
 * (`redisSkip`, the tests say so).
 */
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import { redisSkip, startRedis, type RedisServer } from './sd-harness.js';

export interface SharedRedis {
  /** Set before the first test runs (undefined when skipped). */
  server: RedisServer | undefined;
  admin: Redis;
}

/** `started`: runs once the server is up, before any test (e.g. to derive settings from its port). */
export function redisForFile(started?: (server: RedisServer) => void): SharedRedis {
  const shared = { server: undefined, admin: undefined } as unknown as SharedRedis;
  before(async () => {
    if (redisSkip) return;
    shared.server = await startRedis();
    shared.admin = new Redis({ port: shared.server.port, host: '127.0.0.1', lazyConnect: true });
    await shared.admin.connect();
    started?.(shared.server);
  });
  after(async () => {
    (shared.admin as Redis | undefined)?.disconnect();
    await shared.server?.stop();
  });
  return shared;
}
