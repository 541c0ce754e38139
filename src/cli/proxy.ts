#!/usr/bin/env node
/**
 * `proxy`: the TLS-passthrough proxy (settings from PROXY_SETTINGS). `proxy run public` runs the public
 * proxy, `proxy run private` the private one; each needs its settings section, has an optional metrics
 * listener (opened first; /readyz: proxy/shared/readiness.ts, including the re-read of its announcement
 * store) and stops cleanly on SIGINT/SIGTERM.
 */
import { logger } from '../core/log.js';
import { createDatastore, describeDatastore } from '../datastore/registry.js';
import { MetricsServer } from '../metrics/server.js';
import { proxyReadiness, type ProxyHealthSource, type ProxyState } from '../proxy/shared/readiness.js';
import { registerProxyMetrics } from '../proxy/shared/metrics.js';
import { PrivateProxy } from '../proxy/private/private-proxy.js';
import { PublicProxy } from '../proxy/public/public-proxy.js';
import { loadProxySettings, type DatastoreSettings, type MetricsSettings } from '../settings/index.js';
import { proxyStatus } from '../proxy/shared/status.js';
import type { AnnouncementTable } from '../proxy/shared/announcements.js';
import type { StoreReads } from '../metrics/store-check.js';
import { CliError, createProgram, runProgram, unknownCommandHandler, waitForSignals } from './common.js';
import { registerSettingsCheck } from './settings-check.js';

const log = logger('proxy');

interface Runnable {
  start(): Promise<unknown>;
  stop(): Promise<void>;
  stats(): object;
  readonly announcements: AnnouncementTable;
  readonly storeSyncIntervalMs: number;
  storeHealth(): StoreReads;
}

async function serve(
  kind: 'public' | 'private',
  name: string,
  proxy: Runnable,
  metricsSettings: MetricsSettings | undefined,
  datastore: DatastoreSettings,
): Promise<void> {
  let state: ProxyState = 'starting';
  const store: ProxyHealthSource['store'] = {
    description: `announcements in ${describeDatastore(datastore)}`,
    intervalMs: proxy.storeSyncIntervalMs,
    reads: () => proxy.storeHealth(),
  };
  const readiness = proxyReadiness({ kind, state: () => state, store });
  const metrics =
    metricsSettings === undefined
      ? undefined
      : new MetricsServer(metricsSettings.bind_address, {
          readiness,
          status: proxyStatus({ kind, name, announcements: proxy.announcements, stats: () => proxy.stats() }),
          tls: metricsSettings.tls,
        });
  if (metrics !== undefined) registerProxyMetrics(kind, () => proxy.stats());
  await metrics?.start();
  try {
    await proxy.start();
  } catch (error) {
    await metrics?.stop();
    throw error;
  }
  state = 'listening';
  await waitForSignals(async () => {
    state = 'stopping';
    await Promise.all([proxy.stop(), metrics?.stop()]);
  }, `Stopping ${kind} proxy`);
}

const program = createProgram('proxy', 'Proxy Server (settings from PROXY_SETTINGS)', 'PRO');
const run = program.command('run').description('run a proxy until SIGINT/SIGTERM');

run
  .command('public')
  .description('run the public proxy')
  .action(async () => {
    const settings = await loadProxySettings();
    if (settings.public === undefined) throw new CliError('Public settings undefined!');
    log.info('Starting public proxy...');
    log.info(`announcements in ${describeDatastore(settings.public.datastore)}`);
    const proxy = new PublicProxy(settings.public, { datastore: createDatastore(settings.public.datastore) });
    await serve('public', settings.public.name, proxy, settings.metrics, settings.public.datastore);
  });

run
  .command('private')
  .description('run the private proxy')
  .action(async () => {
    const settings = await loadProxySettings();
    if (settings.private === undefined) throw new CliError('Private settings undefined!');
    log.info('Starting private proxy...');
    log.info(`announcements in ${describeDatastore(settings.private.datastore)}`);
    const proxy = new PrivateProxy(settings.private, {
      datastore: createDatastore(settings.private.datastore),
    });
    await serve('private', settings.private.name, proxy, settings.metrics, settings.private.datastore);
  });

registerSettingsCheck(program, 'proxy');
unknownCommandHandler(run);
unknownCommandHandler(program);
await runProgram(program);
