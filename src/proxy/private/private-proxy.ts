/**
 * The private proxy (`proxy run private`, docs/protocol.md#proxies): holds the announcements of the
 * domains it serves (kept in its datastore, re-read periodically: shared/store-sync.ts), re-announces them
 * periodically, and on `incomingConnection` connects back to the
 * public proxy's internal endpoint, presents the token and delivers the stream to its one configured
 * internal endpoint (pass-through or TLS-terminating). Back-connections are capped; every dial and every
 * terminated request has a timeout (`internal_endpoint.timeout`); stop() tears everything down.
 */
import type { AddressInfo } from 'node:net';
import { logger } from '../../core/log.js';
import type { Datastore } from '../../datastore/datastore.js';
import type { JsonHttpServer } from '../../jsonrpc/http-server.js';
import {
  DEFAULT_PRIVATE_ENDPOINT_TIMEOUT_SECONDS,
  type PrivateProxySettings,
} from '../../settings/proxy-schema.js';
import { AnnouncementStore } from '../shared/announcement-store.js';
import { AnnouncementSync } from '../shared/store-sync.js';
import type { StoreReads } from '../../metrics/store-check.js';
import { AnnouncementTable, DEFAULT_MAX_ANNOUNCEMENTS } from '../shared/announcements.js';
import { createControlServer } from '../shared/control-server.js';
import { PassThroughDelivery, type Delivery } from './delivery.js';
import { connectBack } from './dial.js';
import { EpsLink, type EpsCaller } from '../shared/eps-link.js';
import { privateApiMethods, type BackConnectionRequest } from './private-api.js';
import { Reannouncer, REANNOUNCE_INTERVAL_MS } from './reannounce.js';
import { TerminatingDelivery } from './terminating-delivery.js';
import { PROXY_DRAIN_MS, TunnelRegistry } from '../shared/tunnels.js';
import { errorMessage } from '../../core/errors.js';

const log = logger('private-proxy');

/** Default cap on back-connections being set up or served at once. */
export const DEFAULT_MAX_BACK_CONNECTIONS = 1_000;

export interface PrivateProxyOptions {
  datastore: Datastore;
  /** Link to the own EPS; default: a JSON-RPC client from `jsonrpc_client`. */
  eps?: EpsCaller;
  maxBackConnections?: number;
  maxAnnouncements?: number;
  reannounceIntervalMs?: number;
  /** How often the announcements are re-read from the datastore; default STORE_SYNC_INTERVAL_MS (store-sync.ts). */
  storeSyncIntervalMs?: number;
}

export interface PrivateProxyStats {
  announcements: number;
  backConnections: number;
  tunnels: number;
}

export class PrivateProxy {
  readonly announcements: AnnouncementTable;
  private readonly store: AnnouncementStore;
  private readonly storeSync: AnnouncementSync;
  private readonly eps: EpsCaller;
  private readonly tunnels = new TunnelRegistry();
  private readonly delivery: Delivery;
  private readonly control: JsonHttpServer;
  private readonly reannouncer: Reannouncer;
  private readonly timeoutMs: number;
  private readonly maxBackConnections: number;
  private backConnections = 0;
  private controlAddress: AddressInfo | undefined;

  constructor(
    private readonly settings: PrivateProxySettings,
    options: PrivateProxyOptions,
  ) {
    const endpoint = settings.internal_endpoint;
    // A zero timeout would end every connection at once (as it did in the original); it means "default" here.
    this.timeoutMs =
      (endpoint.timeout > 0 ? endpoint.timeout : DEFAULT_PRIVATE_ENDPOINT_TIMEOUT_SECONDS) * 1000;
    this.maxBackConnections = options.maxBackConnections ?? DEFAULT_MAX_BACK_CONNECTIONS;
    this.announcements = new AnnouncementTable(
      'private',
      options.maxAnnouncements ?? DEFAULT_MAX_ANNOUNCEMENTS,
    );
    this.store = new AnnouncementStore(options.datastore, this.announcements);
    this.storeSync = new AnnouncementSync(this.store, options.storeSyncIntervalMs);
    this.eps = options.eps ?? new EpsLink(settings.jsonrpc_client);
    this.delivery =
      endpoint.tls !== undefined
        ? new TerminatingDelivery(endpoint, this.timeoutMs)
        : new PassThroughDelivery(endpoint.address, this.timeoutMs, this.tunnels);
    this.reannouncer = new Reannouncer(
      this.announcements,
      this.eps,
      options.reannounceIntervalMs ?? REANNOUNCE_INTERVAL_MS,
    );
    this.control = createControlServer(
      settings.jsonrpc_server,
      settings.name,
      privateApiMethods({
        name: settings.name,
        announcements: this.announcements,
        store: this.store,
        eps: this.eps,
        allowedPublicEndpoints: settings.allowed_public_endpoints,
        connectBack: (request) => this.startBackConnection(request),
      }),
    );
  }

  async start(): Promise<{ control: AddressInfo }> {
    if (this.settings.allowed_public_endpoints === undefined) {
      log.warn(
        'private.allowed_public_endpoints is not set: back-connections go to any endpoint a public proxy names',
      );
    }
    const replayed = await this.storeSync.load();
    log.info('announcements loaded', { entries: replayed, active: this.announcements.active().length });
    try {
      this.controlAddress = await this.control.listen();
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.reannouncer.start();
    this.storeSync.start();
    log.info('private proxy ready', {
      api: this.settings.jsonrpc_server.bind_address,
      mode: this.delivery.mode,
      internal_endpoint: this.settings.internal_endpoint.address,
    });
    return { control: this.controlAddress };
  }

  get addresses(): { control: AddressInfo } {
    if (this.controlAddress === undefined) throw new Error('private proxy not started');
    return { control: this.controlAddress };
  }

  get storeSyncIntervalMs(): number {
    return this.storeSync.intervalMs;
  }

  /** The last re-read of the announcements (readiness, metrics/store-check.ts). */
  storeHealth(): StoreReads {
    return this.storeSync.health();
  }

  stats(): PrivateProxyStats {
    return {
      announcements: this.announcements.size,
      backConnections: this.backConnections,
      tunnels: this.tunnels.size,
    };
  }

  async stop(): Promise<void> {
    this.storeSync.stop();
    const closing = this.control.close();
    await this.reannouncer.stop();
    this.delivery.close();
    await this.tunnels.whenEmpty(PROXY_DRAIN_MS);
    this.tunnels.destroyAll();
    this.eps.close();
    await closing;
    await this.store
      .close()
      .catch((error: Error) => log.warn('closing the datastore failed', { error: error.message }));
  }

  private startBackConnection(request: BackConnectionRequest): boolean {
    if (this.backConnections >= this.maxBackConnections) {
      log.warn('back-connection refused: too many connections', { max: this.maxBackConnections });
      return false;
    }
    this.backConnections += 1;
    void this.runBackConnection(request).finally(() => {
      this.backConnections -= 1;
    });
    return true;
  }

  private async runBackConnection(request: BackConnectionRequest): Promise<void> {
    let socket;
    try {
      socket = await connectBack(request.endpoint, request.token, this.timeoutMs);
    } catch (error) {
      log.warn('back-connection failed', { endpoint: request.endpoint, error: errorMessage(error) });
      return;
    }
    socket.on('error', (error) => log.debug('back-connection socket error', { error: error.message }));
    log.debug('connected back', {
      endpoint: request.endpoint,
      domain: request.domain,
      proxy: request.publicProxy,
    });
    await this.delivery.deliver(socket);
  }
}
