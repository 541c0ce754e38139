/**
 * Issue 13, /readyz of an eps: the directory check of an `api` directory against a real records server
 * (mutual TLS), served on a real metrics listener, with the refresh timers and the readiness clock on a
 * manual clock: ready after a verified refresh; not ready once the last refresh is older than its bound;
 * ready but saying so when routing from the verified state file while the sd is down; not ready while a
 * channel is not open.
 */
import { test, before, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ApiDirectory } from '../../src/directory/api-directory.js';
import { DIRECTORY_STALE_PERIODS, epsReadiness } from '../../src/eps/readiness.js';
import { MetricsServer } from '../../src/metrics/server.js';
import type { ApiDirectorySettings } from '../../src/settings/index.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { testCertificates } from '../helpers/network.js';
import { apiSettings, groupRecords, RecordsServer, signWith } from '../helpers/records-server.js';
import { check, getHealth } from '../helpers/health-probe.js';

const PERIOD_MS = 3_600_000;
const BOUND_MS = DIRECTORY_STALE_PERIODS * PERIOD_MS;

before(async () => {
  await testCertificates();
});

interface Node {
  port: number;
  clock: ManualClock;
  sd: RecordsServer;
  channels: { open: number; total: number; stopping: boolean };
}

/** A records server with 3 records, an api directory on it (started), and its readiness on a metrics listener. */
async function node(t: TestContext, overrides: Partial<ApiDirectorySettings> = {}): Promise<Node> {
  const sd = new RecordsServer();
  sd.chain = signWith('hd-1-sign', groupRecords(3, '2021-05-17T10:00:00Z'), '');
  await sd.start(0);
  t.after(() => sd.stop());
  const clock = new ManualClock();
  const directory = new ApiDirectory(
    apiSettings([sd.url], { cache_entries_for: PERIOD_MS / 1000, ...overrides }),
    {
      clock,
    },
  );
  t.after(() => directory.close());
  await directory.start();
  const channels = { open: 1, total: 1, stopping: false };
  const readiness = epsReadiness(
    { directory, directoryStarted: () => true, channels: () => channels },
    clock,
  );
  const metrics = new MetricsServer('127.0.0.1:0', { readiness });
  await metrics.start();
  t.after(() => metrics.stop());
  return { port: (metrics.server.address() as AddressInfo).port, clock, sd, channels };
}

test('eps readyz: ready after a verified refresh, 503 once the directory is older than its bound', async (t) => {
  const n = await node(t);
  const ready = await getHealth(n.port, '/readyz');
  assert.equal(ready.status, 200);
  assert.equal(ready.body.status, 'ready');
  assert.match(
    check(ready, 'directory').detail,
    /^3 verified records, tip [0-9a-f]{16}; refreshed 0\.0 s ago/,
  );

  await n.sd.stop();
  await n.clock.advance(BOUND_MS + 1);
  const stale = await getHealth(n.port, '/readyz');
  assert.equal(stale.status, 503);
  assert.equal(stale.body.status, 'not ready');
  const directory = check(stale, 'directory');
  assert.equal(directory.ok, false);
  assert.match(
    directory.detail,
    /^directory stale \(3 verified records.*last refresh 10800\.0 s ago, bound 10800\.0 s/,
  );
  assert.equal(check(stale, 'listeners').ok, true);
  assert.equal((await getHealth(n.port, '/healthz')).status, 200);
});

test('eps readyz: with the verified state file the node stays ready while the sd is down, and says so', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'readiness-eps-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const n = await node(t, { state_file: join(dir, 'state.jsonl') });
  await n.sd.stop();
  await n.clock.advance(BOUND_MS + 1);
  const reply = await getHealth(n.port, '/readyz');
  assert.equal(reply.status, 200);
  const directory = check(reply, 'directory');
  assert.equal(directory.ok, true);
  assert.match(
    directory.detail,
    /^routing from the verified state file \(3 verified records.*\); stale: last refresh/,
  );
});

test('eps readyz: 503 while a channel is not open, and while stopping', async (t) => {
  const n = await node(t);
  n.channels.open = 0;
  const starting = await getHealth(n.port, '/readyz');
  assert.equal(starting.status, 503);
  assert.deepEqual(check(starting, 'listeners'), {
    name: 'listeners',
    ok: false,
    detail: '0 of 1 channels open',
  });
  assert.equal(check(starting, 'directory').ok, true);
  n.channels.open = 1;
  n.channels.stopping = true;
  const stopping = await getHealth(n.port, '/readyz');
  assert.equal(stopping.status, 503);
  assert.equal(check(stopping, 'listeners').detail, 'stopping: listeners closed');
});
