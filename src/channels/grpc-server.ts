/**
 * `grpc_server` channel: accepts `Call`s from pinned peers and hands them to the broker
 * [WIRE, docs/protocol.md#call]. Reverse streams and P2P sockets are attached by the modules in
 * reverse/ and p2p/.
 */
import type { Address } from '../core/address.js';
import type { EpsRequest, EpsResponse } from '../core/messages.js';
import { logger } from '../core/log.js';
import type { Broker } from '../broker/broker.js';
import { decodeRequest, encodeResponse, type WireRequest } from '../grpc/codec.js';
import { GrpcServer, type CallContext, type GrpcHandlers } from '../grpc/server.js';
import { GrpcError } from '../grpc/status.js';
import { errorMessage } from '../core/errors.js';
import { OUTCOMES } from '../core/outcome.js';
import { PeerDisconnectedError } from '../broker/channel-errors.js';
import { selectIdentity } from '../tls/identity.js';
import { loadTls, type TlsConfig } from '../tls/options.js';
import type { RateLimit } from '../net/rate-limit.js';
import { applyRateLimits } from '../net/server-rate-limit.js';
import type { CallScope, Channel, ConnectionRequest } from '../broker/channel.js';
import { toWireResponse } from '../grpc/convert.js';
import { INSTANCE_HEADER } from '../grpc/replay-headers.js';
import { ReplayedCalls } from './replayed-calls.js';

const log = logger('grpc-server');

/** Settled settings (the defaults are in settings/eps-schema.ts). */
export interface GrpcServerConfig {
  bind_address: string;
  tls: TlsConfig;
  tcp_rate_limits?: RateLimit[] | undefined;
  conformance_probe?: boolean;
}

/** Optional parts plugged in by later modules (reverse streams, P2P). */
export interface GrpcServerExtensions {
  handlers?: Partial<GrpcHandlers>;
  canDeliverTo?: (address: Address) => boolean;
  deliver?: (request: EpsRequest, address: Address, scope: CallScope) => Promise<EpsResponse>;
  handleConnectionRequest?: (request: ConnectionRequest, server: GrpcServer) => Promise<boolean>;
  announceProxyDrain?: (endpoint: string) => string[];
  drainTunnels?: (proxy: string, endpoint: string) => number;
  /** Runs when the channel closes, before its connections do (e.g. ending long-lived reverse streams). */
  close?: () => void;
}

export class GrpcServerChannel implements Channel {
  readonly type = 'grpc_server' as const;
  readonly grpc: GrpcServer;
  private readonly bindAddress: string;
  private readonly handlers: GrpcHandlers;
  /** Calls received again (a retry after a lost connection) get the first call's answer [docs/protocol.md#replay-memory]. */
  readonly replays: ReplayedCalls;

  constructor(
    private readonly broker: Broker,
    config: GrpcServerConfig,
    private readonly ext: GrpcServerExtensions = {},
    attachFilter?: (server: GrpcServer) => void,
  ) {
    this.bindAddress = config.bind_address;
    this.handlers = {
      unary: { '/EPS/Call': (p, ctx) => this.onCall(p, ctx), ...ext.handlers?.unary },
      bidi: { ...ext.handlers?.bidi },
    };
    const tls = loadTls(config.tls);
    const label = `the gRPC server of ${broker.ownName}`;
    this.replays = new ReplayedCalls(label);
    this.grpc = new GrpcServer({
      tls,
      verifyClient: config.tls.verify_client ?? true,
      lookup: (n) => broker.directory.entry(n),
      label,
      handlers: this.handlers,
      conformanceProbe: config.conformance_probe ?? false,
      responseFields: [[INSTANCE_HEADER, this.replays.memory.instance]],
    });
    applyRateLimits(this.grpc.server, config.tcp_rate_limits, this.bindAddress);
    attachFilter?.(this.grpc);
  }

  /** Serves one more unary method (e.g. directory transparency's); set before open(). */
  addUnary(path: string, handler: GrpcHandlers['unary'][string]): void {
    this.handlers.unary[path] = handler;
  }

  async open(): Promise<void> {
    const addr = await this.grpc.listen(this.bindAddress);
    log.info('gRPC server listening', { address: `${addr.address}:${addr.port}` });
  }

  stopAccepting(): void {
    this.grpc.stopAccepting();
  }

  async close(): Promise<void> {
    this.ext.close?.();
    await this.grpc.close();
  }

  canDeliverTo(address: Address): boolean {
    return this.ext.canDeliverTo?.(address) ?? false;
  }

  async deliver(request: EpsRequest, address: Address, scope: CallScope): Promise<EpsResponse> {
    if (!this.ext.deliver) throw new PeerDisconnectedError();
    return this.ext.deliver(request, address, scope);
  }

  async handleConnectionRequest(request: ConnectionRequest): Promise<boolean> {
    if (request.channel !== 'grpc_server' || !this.ext.handleConnectionRequest) return false;
    return this.ext.handleConnectionRequest(request, this.grpc);
  }

  announceProxyDrain(endpoint: string): string[] {
    return this.ext.announceProxyDrain?.(endpoint) ?? [];
  }

  drainTunnels(proxy: string, endpoint: string): number {
    return this.ext.drainTunnels?.(proxy, endpoint) ?? 0;
  }

  private async onCall(payload: Buffer, ctx: CallContext): Promise<Uint8Array> {
    let wire;
    try {
      wire = decodeRequest(payload);
    } catch (e) {
      throw new GrpcError(OUTCOMES.protocolViolation.grpc, `error decoding request: ${errorMessage(e)}`);
    }
    const identity = selectIdentity(ctx.peer.identities, wire.clientName);
    if (!identity) throw new GrpcError(OUTCOMES.unknownClient.grpc, 'no matching client');
    // Remembered by the caller's authenticated name and its token: a retry gets this call's answer.
    return this.replays.serve(identity.name, wire.id, ctx, (scope) =>
      this.answer(wire, identity.name, scope),
    );
  }

  private async answer(wire: WireRequest, caller: string, scope: CallScope): Promise<Uint8Array> {
    let outcome: EpsResponse | null;
    try {
      // The caller's grpc-timeout and its RST_STREAM travel on with the request (ctx, grpc/server.ts).
      outcome = await this.broker.deliver(
        { method: wire.method, params: wire.params, id: wire.id },
        { name: caller },
        scope,
      );
    } catch (e) {
      // Any failure of the broker itself (its answers, also errors, are responses and go on below).
      throw new GrpcError(OUTCOMES.rejected.grpc, `error handling gRPC request: ${errorMessage(e)}`);
    }
    try {
      return encodeResponse(toWireResponse(wire.id, outcome));
    } catch (e) {
      throw new GrpcError(OUTCOMES.backendError.grpc, `error serializing response: ${errorMessage(e)}`);
    }
  }
}
