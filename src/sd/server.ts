/**
 * The `sd run` server [docs/protocol.md#sd-api]: opens the datastore, replays the stored records, serves the
 * JSON-RPC API over HTTP(S) and re-reads the store every REFRESH_INTERVAL_MS (and before every submission),
 * so several sd processes on one store serve one consistent directory (the original never re-reads on reads).
 * Optional metrics listener with Prometheus metrics and the health endpoints (readiness.ts).
 */
import { readFile } from 'node:fs/promises';
import { logger } from '../core/log.js';
import type { Datastore } from '../datastore/datastore.js';
import { createDatastore, describeDatastore } from '../datastore/registry.js';
import { dispatcher } from '../jsonrpc/dispatcher.js';
import { JsonHttpServer } from '../jsonrpc/http-server.js';
import { TrustStore } from '../records/index.js';
import type { SdSettings } from '../settings/sd-schema.js';
import { ServiceDirectory } from './directory.js';
import { SdMetrics } from './metrics.js';
import { sdStatus } from './status.js';
import { SubmissionLog } from './submissions.js';
import { sdMethods } from './methods.js';
import { CodedError, errorMessage } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Readiness } from '../metrics/readiness.js';
import { sdReadiness } from './readiness.js';

const log = logger('sd');

/** How often the store is re-read for records written by other sd processes. */
export const REFRESH_INTERVAL_MS = 1_000;
/** A failing periodic read is logged again after this long (or when the error changes). */
const REPEAT_ERROR_LOG_MS = 30_000;

export class SdStartError extends CodedError<'ERR_SD_START'> {
  override readonly name = 'SdStartError';

  constructor(message: string, options?: ErrorOptions) {
    super('ERR_SD_START', message, options);
  }
}

export interface SdServerOptions {
  refreshIntervalMs?: number;
  /** Time of the store-read bookkeeping behind /readyz (tests: a manual clock). */
  clock?: Clock;
}

export class SdServer {
  readonly directory: ServiceDirectory;
  private readonly store: Datastore;
  private http: JsonHttpServer | undefined;
  private metrics: SdMetrics | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastError = { message: '', at: 0 };
  private lastReadOkAt = 0;
  private stopping = false;
  readonly readiness: Readiness;

  private constructor(
    private readonly settings: SdSettings,
    trust: TrustStore,
    private readonly options: SdServerOptions,
  ) {
    this.store = createDatastore(settings.directory.datastore);
    this.directory = new ServiceDirectory(this.store, trust);
    const clock = options.clock ?? systemClock;
    this.readiness = sdReadiness(
      {
        store: describeDatastore(settings.directory.datastore),
        refreshIntervalMs: this.refreshIntervalMs,
        listening: () => !this.stopping && this.http !== undefined && this.port !== 0,
        lastRead: () => ({ okAt: this.lastReadOkAt, error: this.lastError.message }),
      },
      clock,
    );
  }

  private get refreshIntervalMs(): number {
    return this.options.refreshIntervalMs ?? REFRESH_INTERVAL_MS;
  }

  private get clock(): Clock {
    return this.options.clock ?? systemClock;
  }

  /** Loads the trust anchors, opens the store, replays it and starts serving. */
  static async start(settings: SdSettings, options: SdServerOptions = {}): Promise<SdServer> {
    const trust = await loadTrust(settings);
    const server = new SdServer(settings, trust, options);
    try {
      await server.run();
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  get port(): number {
    return this.http?.port ?? 0;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.http?.close();
    await this.metrics?.stop();
    await this.store.close();
  }

  private async run(): Promise<void> {
    const { datastore } = this.settings.directory;
    try {
      await this.store.open();
    } catch (err) {
      throw new SdStartError(
        `cannot open the datastore (${describeDatastore(datastore)}): ${errorMessage(err)}`,
      );
    }
    const started = performance.now();
    let summary;
    try {
      summary = await this.directory.refresh();
    } catch (err) {
      throw new SdStartError(`cannot replay the datastore: ${errorMessage(err)}`);
    }
    this.lastReadOkAt = this.clock.now();
    const ms = Math.round(performance.now() - started);
    log.info(
      `Replayed ${summary.entries} stored records in ${ms} ms: ${summary.chains} chain(s), ` +
        `serving ${summary.bestLength} records` +
        (summary.rejected > 0 ? `, ${summary.rejected} stored records not served` : ''),
      { datastore: describeDatastore(datastore) },
    );

    const submissions = new SubmissionLog(this.clock);
    if (this.settings.metrics) {
      this.metrics = new SdMetrics(this.directory);
      const status = sdStatus({
        description: describeDatastore(datastore),
        store: this.store,
        refreshIntervalMs: this.refreshIntervalMs,
        lastRead: () => ({ okAt: this.lastReadOkAt, error: this.lastError.message }),
        directory: this.directory,
        submissions,
        clock: this.clock,
      });
      await this.metrics.start(this.settings.metrics, this.readiness, status);
    }
    const server = this.settings.jsonrpc_server;
    const methods = sdMethods(this.directory, this.metrics, submissions);
    this.http = new JsonHttpServer(server, dispatcher(methods));
    const address = await this.http.listen();
    const scheme = server.tls ? 'https' : 'http';
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    log.info(`Serving the service directory on ${scheme}://${host}:${address.port}${server.path}`);

    this.timer = setInterval(() => void this.tick(), this.refreshIntervalMs);
  }

  private async tick(): Promise<void> {
    try {
      const ran = await this.directory.refreshIfIdle();
      if (ran) this.lastReadOkAt = this.clock.now();
      if (ran && this.lastError.message !== '') {
        log.info('the datastore is readable again');
        this.lastError = { message: '', at: 0 };
      }
    } catch (err) {
      this.metrics?.readFailed();
      const message = errorMessage(err);
      const now = Date.now();
      if (message !== this.lastError.message || now - this.lastError.at > REPEAT_ERROR_LOG_MS) {
        log.warn(`cannot read the datastore, serving the last state: ${message}`);
        this.lastError = { message, at: now };
      }
    }
  }
}

/** Record-signing roots and intermediates; each file contributes its first certificate. */
async function loadTrust(settings: SdSettings): Promise<TrustStore> {
  const read = async (files: string[], what: string): Promise<string[]> =>
    Promise.all(
      files.map(async (file) => {
        try {
          return await readFile(file, 'utf8');
        } catch (err) {
          throw new SdStartError(
            `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
          );
        }
      }),
    );
  const { ca_certificate_files: roots, ca_intermediate_certificate_files: intermediates } =
    settings.directory;
  const rootPems = await read(roots, 'CA certificate file');
  const intermediatePems = await read(intermediates, 'intermediate certificate file');
  try {
    return TrustStore.fromPem(rootPems, intermediatePems);
  } catch (err) {
    throw new SdStartError(`invalid record-signing CA certificates: ${errorMessage(err)}`);
  }
}
