/**
 * Issue 13 alerting metrics of the `api` directory against a real records server (mutual TLS): the age of
 * the verified state grows on the directory's clock while refreshes fail and drops to 0 on the next good
 * one; every failed refresh counts under its reason (a refused rollback, an unreachable SD).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiDirectory } from '../../src/directory/api-directory.js';
import { DirectoryRefreshError, SdUnreachableError } from '../../src/directory/api-errors.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { testCertificates } from '../helpers/network.js';
import { apiSettings, groupRecords, RecordsServer, signWith } from '../helpers/records-server.js';
import { metricValue } from '../helpers/metric-value.js';

const T0 = '2021-05-17T10:00:00Z';
let server: RecordsServer;

before(async () => {
  await testCertificates();
  server = new RecordsServer();
  await server.start(0);
});

after(async () => {
  await server.stop();
});

test('eps_directory_age_seconds and eps_directory_refresh_failures_total follow the refreshes', async (t) => {
  const base = signWith('hd-1-sign', groupRecords(4, T0), '');
  server.chain = base;
  const clock = new ManualClock();
  // A long refresh period: only the refreshes this test asks for run.
  const d = new ApiDirectory(apiSettings([server.url], { cache_entries_for: 3600 }), { clock });
  t.after(() => d.close());
  await d.start();
  assert.equal(await metricValue('eps_directory_age_seconds'), 0);

  const rollback = { reason: 'rollback' };
  const refused = await metricValue('eps_directory_refresh_failures_total', rollback);
  server.chain = base.slice(0, 2);
  await clock.advance(90_000);
  await assert.rejects(
    d.refresh(),
    (e: unknown) => e instanceof DirectoryRefreshError && e.code === 'rollback',
  );
  assert.equal(await metricValue('eps_directory_refresh_failures_total', rollback), refused + 1);
  assert.equal(
    await metricValue('eps_directory_age_seconds'),
    90,
    'a refused refresh does not make it fresh',
  );

  const unreachable = { reason: 'unreachable' };
  const down = await metricValue('eps_directory_refresh_failures_total', unreachable);
  await server.stop();
  await assert.rejects(d.refresh(), (e: unknown) => e instanceof SdUnreachableError);
  assert.equal(await metricValue('eps_directory_refresh_failures_total', unreachable), down + 1);

  server.chain = base;
  await server.start();
  await clock.advance(30_000);
  assert.equal(await metricValue('eps_directory_age_seconds'), 120);
  await d.refresh();
  assert.equal(await metricValue('eps_directory_age_seconds'), 0);
});
