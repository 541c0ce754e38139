/**
 * Assembles one eps server from validated settings: directory, broker, channels (in settings order, which
 * is the broker's delivery order) and the optional metrics listener, which opens first so that /readyz
 * tells a prober why the node is not ready yet (readiness.ts); opens and closes them in order.
 *
 * Graceful stop (SIGTERM): first every listener closes and connected gRPC peers get GOAWAY, so new work
 * goes elsewhere (or waits for our restart) while nothing is cut; then the requests in flight finish, for
 * at most SHUTDOWN_DRAIN_MS; then the channels, the async store, metrics and the directory close.
 */
import { logger } from '../core/log.js';
import { Broker } from '../broker/broker.js';
import type { Channel } from '../broker/channel.js';
import type { Directory } from '../directory/directory.js';
import { createChannel, type ChannelItem } from './channel-registry.js';
import { createDirectory, type DirectorySettings } from './directory-registry.js';
import { MetricsServer } from '../metrics/server.js';
import { errorMessage } from '../core/errors.js';
import { AsyncCalls, type AsyncSettings } from '../async/async-calls.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Readiness } from '../metrics/readiness.js';
import { epsReadiness } from './readiness.js';
import { epsStatus } from './status/eps-status.js';
import { newStatusParts } from './status/parts.js';
import type { TlsConfig } from '../tls/options.js';
import { ApiDirectory } from '../directory/api-directory.js';
import { GrpcClientChannel } from '../channels/grpc-client.js';
import { GrpcServerChannel } from '../channels/grpc-server.js';
import { Transparency } from '../transparency/transparency.js';

const log = logger('eps');

/** How long a graceful stop lets the requests in flight finish before closing everything. */
export const SHUTDOWN_DRAIN_MS = 5_000;

export interface EpsServerSettings {
  name: string;
  directory: DirectorySettings;
  channels: ChannelItem[];
  metrics?: { bind_address: string; tls?: TlsConfig | undefined } | undefined;
  async: AsyncSettings;
}

export class EpsServer {
  readonly directory: Directory;
  readonly broker: Broker;
  readonly async: AsyncCalls;
  readonly channels: Channel[] = [];
  readonly readiness: Readiness;
  /** The channels' live state, for the status page. */
  readonly parts = newStatusParts();
  private readonly clock: Clock;
  /** Directory transparency (api directory with `exchange_tips`): tips, healing, alarms. */
  readonly transparency: Transparency | undefined;
  private metrics?: MetricsServer;
  private opened: Channel[] = [];
  private directoryStarted = false;
  private stopping = false;

  /** `clock`: time of the directory's refreshes and of the readiness checks (tests: a manual clock). */
  constructor(
    readonly settings: EpsServerSettings,
    options: { clock?: Clock } = {},
  ) {
    const clock = options.clock ?? systemClock;
    this.clock = clock;
    this.directory = createDirectory(settings.name, settings.directory, { clock });
    this.readiness = epsReadiness(
      {
        directory: this.directory,
        directoryStarted: () => this.directoryStarted,
        channels: () => ({ open: this.opened.length, total: this.channels.length, stopping: this.stopping }),
        asyncStore:
          settings.async.store.type === 'redis'
            ? {
                description: `async store redis ${settings.async.store.settings.addresses.join(', ')}`,
                probe: () => this.async.probeStore(),
              }
            : undefined,
      },
      clock,
    );
    this.async = new AsyncCalls(settings.name, settings.async);
    this.broker = new Broker(settings.name, this.directory, this.async);
    for (const item of settings.channels) {
      let channel: Channel;
      try {
        log.debug(`Initializing channel '${item.name}' of type '${item.type}'`);
        channel = createChannel(item, {
          ownName: settings.name,
          broker: this.broker,
          directory: this.directory,
          parts: this.parts,
        });
      } catch (e) {
        throw new Error(`error initializing channel '${item.name}': ${errorMessage(e)}`, { cause: e });
      }
      this.broker.register(channel);
      this.channels.push(channel);
    }
    this.transparency = this.startTransparency(clock);
  }

  private startTransparency(clock: Clock): Transparency | undefined {
    const settings = this.settings.directory;
    if (!(this.directory instanceof ApiDirectory) || settings.type !== 'api') return undefined;
    if (!settings.settings.exchange_tips) return undefined;
    const transparency = new Transparency(this.settings.name, this.directory, clock);
    for (const channel of this.channels) {
      if (channel instanceof GrpcClientChannel) transparency.attachClient(channel);
      if (channel instanceof GrpcServerChannel) transparency.attachServer(channel);
    }
    return transparency;
  }

  async start(): Promise<void> {
    if (this.settings.metrics) {
      const { name, channels } = this.settings;
      this.metrics = new MetricsServer(this.settings.metrics.bind_address, {
        readiness: this.readiness,
        status: epsStatus(
          name,
          channels,
          this.broker,
          this.parts,
          this.clock,
          this.transparency && (() => this.transparency!.alarms.recent()),
        ),
        tls: this.settings.metrics.tls,
      });
      await this.metrics.start();
    }
    try {
      await this.directory.start();
      this.directoryStarted = true;
      await this.async.open();
    } catch (e) {
      await this.metrics?.stop();
      throw e;
    }
    for (let i = 0; i < this.channels.length; i++) {
      const channel = this.channels[i]!;
      try {
        await channel.open();
      } catch (e) {
        await this.stop();
        throw new Error(`error opening channel ${i}: ${errorMessage(e)}`, { cause: e });
      }
      this.opened.push(channel);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const channel of this.opened) channel.stopAccepting?.();
    await this.metrics?.stop();
    this.metrics = undefined;
    log.info('stopped accepting connections; letting the calls in flight finish', {
      in_flight: this.broker.requestsInFlight,
      within_ms: SHUTDOWN_DRAIN_MS,
    });
    const drained = await this.broker.whenIdle(SHUTDOWN_DRAIN_MS);
    if (drained) log.info('no calls in flight');
    else log.warn('calls still in flight after the shutdown bound; ending them');
    for (const channel of this.opened.reverse()) {
      try {
        await channel.close();
      } catch (e) {
        log.error('error closing channel', { channel: channel.type, error: errorMessage(e) });
      }
    }
    this.opened = [];
    this.transparency?.close();
    await this.async.close();
    await this.directory.close();
  }
}
