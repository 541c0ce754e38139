/**
 * Store and forward with the Redis store (test/helpers/async-outbox-suite.ts): both nodes keep their tables
 * in one real redis-server, which outlives every restart and kill of the eps processes.
 */
import { outboxSuite } from '../helpers/async-outbox-suite.js';
import { redisStore } from '../helpers/async-pair.js';
import { redisSkip } from '../helpers/sd-harness.js';

outboxSuite('Redis store', redisStore, redisSkip);
