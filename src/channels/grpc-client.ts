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
import { CallTokens, type CallMark } from '../grpc/replay-headers.js';

const log = logger('grpc-client');

/** What MAY_HAVE_BEEN_PROCESSED and MAY_HAVE_BEEN_PROCESSED_NOT_RUN say (core/outcome.ts), as LOST_BEFORE. */
const MAY_HAVE_BEEN = 'may have been processed';
/** Added to the failure of a call whose first attempt was lost after it was sent (a retry failed too). */
const LOST_BEFORE =
  '; its first attempt was lost with its connection after it was sent: it may have been processed by the peer';

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
  /** `eps-call-token`s of this process's calls. */
  private readonly tokens = new CallTokens();
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
    // The same token on every attempt; after an attempt lost with its connection, the retry names the
    // server instance it went to (the peer's replay memory decides, docs/protocol.md#replay-memory).
    const mark: CallMark = { token: this.tokens.next() };
    /** Said by every later failure once an attempt was lost after it was sent (unless `e` says it). */
    const lost = (e: unknown): string =>
      mark.retryOf === undefined || errorMessage(e).includes(MAY_HAVE_BEEN) ? '' : LOST_BEFORE;
    try {
      for (;;) {
        let pooled: PooledSession;
        try {
          const connecting = this.session(peer, Deadline.after(this.callTimeoutMs, this.clock));
          pooled = await untilScopeEnds(connecting, { deadline, cancellation: scope.cancellation }, hop);
        } catch (e) {
          if (e instanceof NoRouteError) {
            if (mark.retryOf === undefined) throw e;
            throw new Error(`error sending request: ${e.message}${lost(e)}`, { cause: e });
          }
          if (e instanceof DeadlineExceededError || e === scope.cancellation.reason) {
            const processed = mark.retryOf === undefined ? 'not processed by the peer; ' : '';
            const waited =
              lastRefusal === undefined
                ? ''
                : `; last attempt: ${errorMessage(lastRefusal)} (${processed}${retry.retried + 1} attempts)`;
            throw new Error(`error sending request: ${errorMessage(e)}${waited}${lost(e)}`, { cause: e });
          }
          // Nothing was sent (the pool dials again, or brokers a new tunnel, when the backoff allows).
          lastRefusal = e;
          if (await retry.again(e, 'connection')) {
            log.debug('no connection to the peer; trying again', { peer, error: errorMessage(e) });
            continue;
          }
          throw connectionError(retry.failure(e), retry.retried, lost(e));
        }
        try {
          const reply = await pooled.session.unary('/EPS/Call', payload, deadline, scope.cancellation, mark);
          return fromWireResponse(decodeResponse(reply));
        } catch (e) {
          // Lost with its connection before any answer byte, by a server that remembers calls: one retry.
          const replay = e instanceof GrpcError && e.replayOn !== undefined && mark.retryOf === undefined;
          const again =
            e instanceof GrpcError &&
            (e.unprocessed || replay) &&
            (await retry.again(e, replay ? 'connection' : 'stream'));
          if (again) lastRefusal = e;
          if (again && replay) mark.retryOf = e.replayOn;
          log.debug(again ? 'gRPC call not answered by the peer; retrying' : 'gRPC call failed', {
            peer,
            error: errorMessage(e),
            kind: classify(e),
            ...(replay && again ? { replayOn: mark.retryOf } : {}),
          });
          if (again) continue;
          throw callError(retry.failure(e), lost(e));
        }
      }
    } finally {
      retry.end();
    }
  }
}

/**
 * Whatever failed (dial, TLS, P2P tunnel, backoff), the call ends as grpc-go's "connection error"; `lost`
 * says that an earlier attempt may have been processed (then "not processed" is not claimed).
 */
function connectionError(e: unknown, retries: number, lost = ''): Error {
  const tried =
    retries === 0
      ? ''
      : lost
        ? ` (${retries + 1} attempts)`
        : ` (not processed by the peer; ${retries + 1} attempts)`;
  const err = new GrpcError(OUTCOMES.peerUnreachable.grpc, `connection error: ${errorMessage(e)}${tried}`);
  return new Error(`error sending request: error performing gRPC call: ${err.message}${lost}`, { cause: e });
}

/** A call that failed on its connection (refused for good, lost, or failed at the peer). */
function callError(e: unknown, lost = ''): Error {
  return new Error(`error sending request: error performing gRPC call: ${errorMessage(e)}${lost}`, {
    cause: e,
  });
}
