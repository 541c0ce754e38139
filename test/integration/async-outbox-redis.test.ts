/**
 * Store and forward with the Redis store (test/helpers/async-outbox-suite.ts): both nodes keep their tables
 * in one real redis-server, which outlives every restart and kill of the eps processes.
 */
import { outboxSuite } from '../helpers/async-outbox-suite.js';
import { redisSkip, startRedis } from '../helpers/sd-harness.js';

outboxSuite(
  'Redis store',
  async () => {
    const redis = await startRedis();
    return {
      store: {
        type: 'redis',
        settings: { addresses: [`127.0.0.1:${redis.port}`], password: '', key: 'eps-async-test' },
      },
      close: () => redis.stop(),
    };
  },
  redisSkip,
);
