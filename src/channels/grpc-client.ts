/**
 * `grpc_client` channel: delivers requests to other operators' public gRPC servers [docs/protocol.md#call].
 * Unlike the original, sessions are pooled per peer and reused, reconnect with backoff, and every call has
 * a deadline. Peers reachable only through a proxy are dialled through a P2P tunnel (see p2p/).
 */
import type { Address } from '../core/address.js';
import type { EpsRequest, EpsResponse } from '../core/messages.js';
import { logger } from '../core/log.js';
import { Deadline } from '../core/deadline.js';
import type { Directory } from '../directory/directory.js';
import { grpcServerSettings } from '../directory/permissions.js';
import { decodeResponse, encodeRequest } from '../grpc/codec.js';
import { dialTls, type DialResult } from '../grpc/dial.js';
import { PinnedPeer, recheckPeer } from '../tls/pinned-peer.js';
import { PeerPool, type PooledSession } from '../grpc/peer-pool.js';
import { GrpcError } from '../grpc/status.js';
import { errorMessage } from '../core/errors.js';
import { classify, OUTCOMES } from '../core/outcome.js';
import { NoRouteError } from '../broker/channel-errors.js';
import { parseHostPort } from '../net/host-port.js';
import { loadTls, type LoadedTls, type TlsConfig } from '../tls/options.js';
import type { DirectoryEntry } from '../core/directory-entry.js';
import type { CallScope, Channel } from '../broker/channel.js';
import { DeadlineExceededError, untilScopeEnds } from '../core/cancellation.js';
import { fromWireResponse } from '../grpc/convert.js';
import { paramsForPeer } from '../broker/client-info.js';
import type { ReverseStreamKeeper } from './reverse/dialling-side.js';
import { systemClock, type Clock } from '../core/clock.js';
import { SafeRetry, WaitingCalls } from './safe-retry.js';
import { DEFAULT_GRPC_RECONNECT_WAIT_SECONDS } from '../settings/eps-schema.js';

const log = logger('grpc-client');

export interface GrpcClientConfig {
  tls: TlsConfig;
  useProxy?: boolean | undefined;
  /** Seconds (settled: the defaults are in settings/eps-schema.ts). */
  call_timeout: number;
  connect_timeout: number;
  /** Seconds a call not processed by the peer keeps trying for its return (channels/safe-retry.ts). */
  reconnect_wait?: number | undefined;
}

/** Opens a TLS connection to `peer` through one of its proxies (P2P); provided by the P2P module. */
export type ProxyDialer = (
  peer: string,
  proxies: readonly string[],
  deadline: Deadline,
) => Promise<DialResult>;

export class GrpcClientChannel implements Channel {
  readonly type = 'grpc_client' as const;
  readonly tls: LoadedTls;
  readonly pool: PeerPool;
  private readonly callTimeoutMs: number;
  readonly connectTimeoutMs: number;
  private readonly reconnectWaitMs: number;
  /** Calls waiting for a peer's return (bounded). */
  readonly waiting = new WaitingCalls();
  private proxyDialer?: ProxyDialer;
  private reverse?: ReverseStreamKeeper;

  constructor(
    private readonly ownName: string,
    private readonly directory: Directory,
    private readonly config: GrpcClientConfig,
    private readonly clock: Clock = systemClock,
  ) {
    this.tls = loadTls(config.tls);
    this.pool = new PeerPool(clock);
    this.callTimeoutMs = config.call_timeout * 1000;
    this.connectTimeoutMs = config.connect_timeout * 1000;
    this.reconnectWaitMs = (config.reconnect_wait ?? DEFAULT_GRPC_RECONNECT_WAIT_SECONDS) * 1000;
  }

  setProxyDialer(dialer: ProxyDialer): void {
    this.proxyDialer = dialer;
  }

  setReverseStreams(keeper: ReverseStreamKeeper): void {
    this.reverse = keeper;
  }

  async open(): Promise<void> {
    this.reverse?.open();
  }

  async close(): Promise<void> {
    this.reverse?.close();
    this.pool.closeAll();
  }

  canDeliverTo(address: Address): boolean {
    if (address.operator === this.ownName) return false;
    const entry = this.directory.entry(address.operator);
    const server = entry && grpcServerSettings(entry);
    return server !== undefined && !server.internal && !server.proxies.includes(this.ownName);
  }

  /**
   * A session to `peer`, direct or through its proxy; shared by calls and reverse streams. A pooled
   * session whose server no longer passes the pin check (the directory unpinned its certificate, or it
   * expired) is closed and replaced; the new session is verified at its handshake (verifyPeer in
   * dialTls), which refuses a server that still presents an unpinned certificate and logs that once.
   */
  async session(peer: string, deadline: Deadline): Promise<PooledSession> {
    const pooled = await this.pooledSession(peer, deadline);
    const lookup = (n: string): DirectoryEntry | undefined => this.directory.entry(n);
    const now = recheckPeer(pooled.peer, { operator: peer, lookup });
    if (now instanceof PinnedPeer) {
      pooled.peer = now;
      return pooled;
    }
    log.debug('pooled session no longer passes the pin check, reconnecting', { peer, code: now.code });
    this.pool.invalidate(peer);
    return this.pooledSession(peer, deadline);
  }

  private async pooledSession(peer: string, deadline: Deadline): Promise<PooledSession> {
    const entry = this.directory.entry(peer);
    const server = entry && grpcServerSettings(entry);
    if (!server) throw new NoRouteError('cannot deliver gRPC request: recipient does not have a gRPC server');
    if (server.proxiesError !== undefined) {
      throw new NoRouteError(`the directory entry of ${peer} is malformed: ${server.proxiesError}`);
    }
    if (server.proxies.length > 0) {
      if (this.config.useProxy === false) {
        throw new NoRouteError('destination is only reachable via proxy but proxying is disabled');
      }
      const dialer = this.proxyDialer;
      if (!dialer)
        throw new NoRouteError('destination is only reachable via proxy but no P2P dialer is configured');
      return this.pool.get(
        peer,
        `proxy:${server.proxies.join(',')}`,
        () => dialer(peer, server.proxies, deadline),
        deadline,
      );
    }
    const { host, port } = parseHostPort(server.address);
    const connect = (): Promise<DialResult> =>
      dialTls({
        peer,
        tls: this.tls,
        lookup: (n) => this.directory.entry(n),
        deadline: deadline.within(this.connectTimeoutMs),
        host,
        port,
      });
    return this.pool.get(peer, `direct:${server.address}`, connect, deadline);
  }

  /**
   * One call: within the caller's deadline and our own `call_timeout`, whichever ends first (the peer gets
   * the rest as grpc-timeout); the scope's cancellation resets the stream (RST_STREAM CANCEL).
   *
   * A connection still to be made (dial, P2P tunnel) is shared by every call to the peer, so it is made
   * within our own timeouts, not the caller's: a caller whose time is up stops waiting for it, and the
   * connection is still there for the next call.
   */
  async deliver(request: EpsRequest, address: Address, scope: CallScope): Promise<EpsResponse> {
    const deadline = scope.deadline.within(this.callTimeoutMs);
    const hop = `the connection from ${this.ownName} to ${address.operator}`;
    const payload = encodeRequest({
      method: request.method,
      params: paramsForPeer(request.params),
      id: request.id,
      clientName: this.ownName,
    });
    // A call the peer did not process goes again; after the first retry it waits for the peer's return.
    const peer = address.operator;
    const retry = new SafeRetry({
      peer,
      scope: { ...scope, deadline },
      waitMs: this.reconnectWaitMs,
      waiting: this.waiting,
      clock: this.clock,
    });
    // What made the call try again: named when its deadline or cancellation ends the waiting.
    let lastRefusal: unknown;
    try {
      for (;;) {
        let pooled: PooledSession;
        try {
          const connecting = this.session(peer, Deadline.after(this.callTimeoutMs, this.clock));
          pooled = await untilScopeEnds(connecting, { deadline, cancellation: scope.cancellation }, hop);
        } catch (e) {
          if (e instanceof NoRouteError) throw e;
          if (e instanceof DeadlineExceededError || e === scope.cancellation.reason) {
            const waited =
              lastRefusal === undefined
                ? ''
                : `; last attempt: ${errorMessage(lastRefusal)} (not processed by the peer; ${retry.retried + 1} attempts)`;
            throw new Error(`error sending request: ${errorMessage(e)}${waited}`, { cause: e });
          }
          // Nothing was sent (the pool dials again, or brokers a new tunnel, when the backoff allows).
          lastRefusal = e;
          if (await retry.again(e, 'connection')) {
            log.debug('no connection to the peer; trying again', { peer, error: errorMessage(e) });
            continue;
          }
          throw connectionError(retry.failure(e), retry.retried);
        }
        try {
          const reply = await pooled.session.unary('/EPS/Call', payload, deadline, scope.cancellation);
          return fromWireResponse(decodeResponse(reply));
        } catch (e) {
          const again = e instanceof GrpcError && e.unprocessed && (await retry.again(e, 'stream'));
          if (again) lastRefusal = e;
          log.debug(again ? 'gRPC call not processed by the peer; retrying' : 'gRPC call failed', {
            peer,
            error: errorMessage(e),
            kind: classify(e),
          });
          if (again) continue;
          throw callError(retry.failure(e));
        }
      }
    } finally {
      retry.end();
    }
  }
}

/** Whatever failed (dial, TLS, P2P tunnel, backoff), the call ends as grpc-go's "connection error". */
function connectionError(e: unknown, retries: number): Error {
  const tried = retries > 0 ? ` (not processed by the peer; ${retries + 1} attempts)` : '';
  const err = new GrpcError(OUTCOMES.peerUnreachable.grpc, `connection error: ${errorMessage(e)}${tried}`);
  return new Error(`error sending request: error performing gRPC call: ${err.message}`, { cause: e });
}

/** A call that failed on its connection (refused for good, lost, or failed at the peer). */
function callError(e: unknown): Error {
  return new Error(`error sending request: error performing gRPC call: ${errorMessage(e)}`, { cause: e });
}
