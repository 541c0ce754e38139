/**
 * An active/standby pair of eps instances of ls-1 on one Redis store of asynchronous calls
 * (async/lease-keeper.ts), real processes and a real redis-server: the second instance starts standby,
 * serves synchronous calls, says so on /readyz and refuses asynchronous work with ERR_ASYNC_STANDBY; when
 * the active one is killed (kill -9), it takes the store over within the lease time and answers a request
 * that was pending in the store, through its own gateway.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonObject } from '../../src/core/json.js';
import { AsyncPair } from '../helpers/async-pair.js';
import { callAcknowledged, errorCode, gateway, respond, respondsFor, rpc } from '../helpers/async-flow.js';
import { check, getHealth, readyzUntil } from '../helpers/health-probe.js';
import { freePort, type Running } from '../helpers/processes.js';
import { redisSkip, startRedis } from '../helpers/sd-harness.js';

/** Lease of the pair (seconds): a takeover waits at most this long plus one poll. */
const LEASE_S = 2;
let pair: AsyncPair;
let standby: Running | undefined;
const ports = { gateway: 0, grpc: 0, metrics: 0 };

before(async () => {
  if (redisSkip) return;
  const redis = await startRedis();
  pair = await AsyncPair.start({
    store: {
      store: {
        type: 'redis',
        settings: { addresses: [`127.0.0.1:${redis.port}`], password: '', key: 'eps-standby-test' },
        lease: LEASE_S,
      },
      close: () => redis.stop(),
    },
  });
  // A second instance of ls-1: the same settings and store, ports of its own, a metrics listener.
  const settings = JSON.parse(
    readFileSync(join(pair.net.settingsDir('ls-1'), '001_default.json'), 'utf8'),
  ) as JsonObject & { channels: { type: string; settings: JsonObject }[] };
  ports.gateway = await freePort();
  ports.grpc = await freePort();
  ports.metrics = await freePort();
  for (const channel of settings.channels) {
    if (channel.type === 'jsonrpc_server') channel.settings.bind_address = `127.0.0.1:${ports.gateway}`;
    if (channel.type === 'grpc_server') channel.settings.bind_address = `127.0.0.1:${ports.grpc}`;
  }
  settings.metrics = { bind_address: `127.0.0.1:${ports.metrics}` };
  mkdirSync(pair.net.settingsDir('ls-1-b'), { recursive: true });
  writeFileSync(join(pair.net.settingsDir('ls-1-b'), '001_default.json'), JSON.stringify(settings));
  standby = await pair.net.start('ls-1-b');
});

after(async () => {
  await pair?.close();
});

test(
  'the standby instance refuses asynchronous work clearly, then takes over after kill -9 of the active one',
  { skip: redisSkip },
  async (t) => {
    // Pending at ls-1 (the active instance, the one the directory names).
    await callAcknowledged(pair.hdPort, 'hd-1', 'ls-1.locate', 'q-1');
    const requestId = 'ls-1.locate(q-1)';

    const ready = await getHealth(ports.metrics, '/readyz');
    assert.equal(ready.status, 503);
    assert.match(
      check(ready, 'async-store').detail,
      /standby: the store of asynchronous calls is held by host=\S+ pid=\d+/,
    );
    // Synchronous calls work; asynchronous ones are refused with a retryable, coded error.
    const sync = await gateway(ports.gateway, 'ls-1', rpc('ls-1.lookup', { person: 'p-1' }, 'l-1'));
    assert.equal(sync.json.result, 'sync', sync.text);
    const early = await respond(ports.gateway, 'ls-1', requestId, { result: { found: true } });
    assert.equal(errorCode(early), 'ERR_ASYNC_STANDBY', early.text);
    assert.match(early.text, /try the active instance of this operator/);
    const marked = await gateway(ports.gateway, 'ls-1', rpc('hd-1.notify', { _async: { ttl: 60 } }, 'm-1'));
    assert.equal(errorCode(marked), 'ERR_ASYNC_STANDBY', marked.text);
    const status = await gateway(ports.gateway, 'ls-1', rpc('_status', {}, 's-1'));
    assert.equal(errorCode(status), 'ERR_ASYNC_STANDBY', status.text);

    const killed = performance.now();
    await pair.stopNode('ls-1', 'SIGKILL');
    // Awaited, with a deadline of the lease time and a margin: the standby becomes active.
    await standby!.waitFor(/active: this instance holds the store/, LEASE_S * 1000 + 3000);
    t.diagnostic(
      `kill -9 of the active instance -> standby active: ${Math.round(performance.now() - killed)} ms`,
    );
    await readyzUntil(ports.metrics, 200, 'the former standby to be ready');

    const answered = await respond(ports.gateway, 'ls-1', requestId, { result: { found: true } });
    assert.equal(answered.status, 200, answered.text);
    assert.equal(errorCode(answered), undefined, answered.text);
    const [delivered] = await respondsFor(pair.hdBackend, 'q-1');
    assert.deepEqual((delivered!.params as JsonObject).result, { found: true });
  },
);
