/**
 * The options of a Redis client that keeps no command for later (datastore/redis-store.ts `noReplay`, the
 * store of asynchronous calls under a lease): nothing queued while disconnected, nothing resent after a
 * reconnect, and in Cluster mode no command sent again after "Connection is closed" (ioredis does that
 * after retryDelayOnFailover, even for a command whose timeout already rejected it). No server needed: the
 * clients are created without connecting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, Redis } from 'ioredis';
import { createRedisClient } from '../../src/datastore/redis-store.js';

const settings = (addresses: string[]) => ({
  addresses,
  password: '',
  database: 0,
  key: 'k',
  master_name: '',
});

test('a cluster client without replay: no resend after a closed connection, redirections kept', () => {
  const client = createRedisClient(settings(['127.0.0.1:7001', '127.0.0.1:7002']), { noReplay: true });
  try {
    assert.ok(client instanceof Cluster);
    assert.equal(client.options.retryDelayOnFailover, 0);
    assert.equal(client.options.enableOfflineQueue, false);
    assert.equal(client.options.redisOptions?.autoResendUnfulfilledCommands, false);
    // MOVED / ASK / TRYAGAIN are followed: the command was not executed by the node that answered so.
    assert.ok((client.options.maxRedirections ?? 0) > 0);
    assert.ok((client.options.retryDelayOnTryAgain ?? 0) > 0);
  } finally {
    client.disconnect();
  }
});

test('a cluster client of the datastore keeps the defaults of ioredis', () => {
  const client = createRedisClient(settings(['127.0.0.1:7001', '127.0.0.1:7002']));
  try {
    assert.ok(client instanceof Cluster);
    assert.equal(client.options.retryDelayOnFailover, 100);
  } finally {
    client.disconnect();
  }
});

test('a single-node client without replay', () => {
  const client = createRedisClient(settings(['127.0.0.1:7001']), { noReplay: true });
  try {
    assert.ok(client instanceof Redis);
    assert.equal(client.options.autoResendUnfulfilledCommands, false);
    assert.equal(client.options.enableOfflineQueue, false);
  } finally {
    client.disconnect();
  }
});
