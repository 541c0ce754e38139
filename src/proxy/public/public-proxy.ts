/**
 * The public proxy (`proxy run public`, docs/protocol.md#proxies): a TCP listener for public TLS clients
 * (routed by SNI, never decrypted), an internal listener where private proxies and P2P peers present their
 * tokens, and the JSON-RPC control API for its own EPS. Per-listener rate limits (`tcp_rate_limits`,
 * independent counters per listener), bounded token tables, bounded announcements, no lifetime cap on
 * tunnels, and a stop() that closes listeners, tunnels and parked sockets.
 */
import net from 'node:net';
import { logger } from '../../core/log.js';
import type { Datastore } from '../../datastore/datastore.js';
import type { JsonHttpServer } from '../../jsonrpc/http-server.js';
import { applyRateLimits } from '../../net/server-rate-limit.js';
import type { PublicProxySettings } from '../../settings/proxy-schema.js';
import { AnnouncementStore } from '../shared/announcement-store.js';
import { AnnouncementTable, DEFAULT_MAX_ANNOUNCEMENTS } from '../shared/announcements.js';
import { createControlServer } from '../shared/control-server.js';
import { EpsLink, type EpsCaller } from '../shared/eps-link.js';
import { closeServer, listenOn } from '../../net/listen.js';
import { publicApiMethods } from './public-api.js';
import { handleFrontConnection, type NormalTokenMeta } from './public-front.js';
import { handleInternalConnection, type P2pTokenMeta } from './public-internal.js';
import { DEFAULT_MAX_TOKEN_ENTRIES, TokenTable } from '../shared/tokens.js';
import {
  DEFAULT_MAX_PENDING_CONNECTIONS,
  PROXY_DRAIN_MS,
  PROXY_NOTICED_DRAIN_MS,
  TunnelRegistry,
} from '../shared/tunnels.js';
import { Deadline } from '../../core/deadline.js';
import { noticeDrain } from './drain-notice.js';
import type { StoreReads } from '../../metrics/store-check.js';
import { AnnouncementSync } from '../shared/store-sync.js';

const log = logger('public-proxy');

export interface PublicProxyOptions {
  datastore: Datastore;
  /** Link to the own EPS; default: a JSON-RPC client from `jsonrpc_client`. */
  eps?: EpsCaller;
  /** Deadline for a ClientHello / token on a new connection; default `handshake_timeout`. */
  handshakeTimeoutMs?: number;
  maxPendingConnections?: number;
  maxTokens?: number;
  maxAnnouncements?: number;
  maxHelloBytes?: number;
  /** How often the announcements are re-read from the datastore; default STORE_SYNC_INTERVAL_MS (store-sync.ts). */
  storeSyncIntervalMs?: number;
}

export interface PublicProxyStats {
  announcements: number;
  normalTokens: number;
  p2pTokens: number;
  tunnels: number;
  pendingConnections: number;
  /** Cap of each token table (normal and P2P): the alert on a table near its limit compares with it. */
  tokenLimit: number;
}

export interface PublicProxyAddresses {
  tls: net.AddressInfo;
  internal: net.AddressInfo;
  control: net.AddressInfo;
}

export class PublicProxy {
  readonly announcements: AnnouncementTable;
  private readonly store: AnnouncementStore;
  private readonly normalTokens: TokenTable<NormalTokenMeta>;
  private readonly p2pTokens: TokenTable<P2pTokenMeta>;
  private readonly tunnels: TunnelRegistry;
  private readonly eps: EpsCaller;
  private readonly front: net.Server;
  private readonly internal: net.Server;
  private readonly control: JsonHttpServer;
  private readonly handshakeTimeoutMs: number;
  private readonly storeSync: AnnouncementSync;
  private bound: PublicProxyAddresses | undefined;

  constructor(
    private readonly settings: PublicProxySettings,
    private readonly options: PublicProxyOptions,
  ) {
    const acceptTimeoutMs = settings.accept_timeout * 1000;
    const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKEN_ENTRIES;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? settings.handshake_timeout * 1000;
    this.announcements = new AnnouncementTable(
      'public',
      options.maxAnnouncements ?? DEFAULT_MAX_ANNOUNCEMENTS,
    );
    this.store = new AnnouncementStore(options.datastore, this.announcements);
    this.storeSync = new AnnouncementSync(this.store, options.storeSyncIntervalMs);
    this.normalTokens = new TokenTable({ acceptTimeoutMs, maxEntries: maxTokens });
    this.p2pTokens = new TokenTable({ acceptTimeoutMs, maxEntries: maxTokens });
    this.tunnels = new TunnelRegistry(options.maxPendingConnections ?? DEFAULT_MAX_PENDING_CONNECTIONS);
    this.eps = options.eps ?? new EpsLink(settings.jsonrpc_client);

    this.front = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      void handleFrontConnection(socket, {
        announcements: this.announcements,
        tokens: this.normalTokens,
        tunnels: this.tunnels,
        eps: this.eps,
        internalEndpoint: settings.internal_endpoint,
        helloTimeoutMs: this.handshakeTimeoutMs,
        maxHelloBytes: options.maxHelloBytes,
      });
    });
    this.internal = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      void handleInternalConnection(socket, {
        normalTokens: this.normalTokens,
        p2pTokens: this.p2pTokens,
        tunnels: this.tunnels,
        tokenTimeoutMs: this.handshakeTimeoutMs,
      });
    });
    // Each listener gets its own limiter: counters and windows are never shared (unlike the original).
    applyRateLimits(this.front, settings.tcp_rate_limits, `public ${settings.tls_bind_address}`);
    applyRateLimits(this.internal, settings.tcp_rate_limits, `internal ${settings.internal_bind_address}`);
    for (const server of [this.front, this.internal]) {
      server.on('error', (error) => log.error('listener error', { error: error.message }));
    }
    this.control = createControlServer(
      settings.jsonrpc_server,
      settings.name,
      publicApiMethods({
        name: settings.name,
        internalEndpoint: settings.internal_endpoint,
        announcements: this.announcements,
        store: this.store,
        p2pTokens: this.p2pTokens,
        eps: this.eps,
      }),
    );
  }

  /** Replays the announcements, then binds all three listeners (any bind failure rejects). */
  async start(): Promise<PublicProxyAddresses> {
    const replayed = await this.storeSync.load();
    log.info('announcements loaded', { entries: replayed, active: this.announcements.active().length });
    try {
      const control = await this.control.listen();
      const internal = await listenOn(this.internal, this.settings.internal_bind_address);
      const tls = await listenOn(this.front, this.settings.tls_bind_address);
      this.bound = { tls, internal, control };
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.storeSync.start();
    log.info('public proxy listening', {
      tls: this.settings.tls_bind_address,
      internal: this.settings.internal_bind_address,
      api: this.settings.jsonrpc_server.bind_address,
    });
    return this.bound;
  }

  get storeSyncIntervalMs(): number {
    return this.storeSync.intervalMs;
  }

  /** The last re-read of the announcements (readiness, metrics/store-check.ts). */
  storeHealth(): StoreReads {
    return this.storeSync.health();
  }

  get addresses(): PublicProxyAddresses {
    if (this.bound === undefined) throw new Error('public proxy not started');
    return this.bound;
  }

  stats(): PublicProxyStats {
    return {
      announcements: this.announcements.size,
      normalTokens: this.normalTokens.size,
      p2pTokens: this.p2pTokens.size,
      tunnels: this.tunnels.size,
      pendingConnections: this.tunnels.pendingSize,
      tokenLimit: this.normalTokens.maxEntries,
    };
  }

  /**
   * Graceful: listeners first (new connections are refused); the callees of live P2P tunnels are told
   * through the own EPS that we stop (drain-notice.ts), so they send GOAWAY inside their tunnels and the
   * tunnels end once their calls are done, within PROXY_NOTICED_DRAIN_MS; other tunnels get
   * PROXY_DRAIN_MS to end by themselves; then the rest is cut.
   */
  async stop(): Promise<void> {
    this.storeSync.stop();
    const othersBy = Deadline.after(PROXY_DRAIN_MS);
    const toldBy = Deadline.after(PROXY_NOTICED_DRAIN_MS);
    const closing = [closeServer(this.front), closeServer(this.internal), this.control.close()];
    this.normalTokens.close();
    this.p2pTokens.close();
    const told = await noticeDrain(this.eps, this.settings, this.tunnels.parties(), othersBy);
    await this.tunnels.drain(told, othersBy, toldBy);
    this.tunnels.destroyAll();
    this.eps.close();
    await Promise.all(closing);
    await this.store
      .close()
      .catch((error: Error) => log.warn('closing the datastore failed', { error: error.message }));
  }
}
