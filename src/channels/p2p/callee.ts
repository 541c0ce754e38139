/**
 * Callee side of P2P (B): on `_connectionRequest` from our proxy, dial the proxy's internal endpoint, write
 * the 32 raw token bytes, and serve the socket as TLS server with our gRPC server [WIRE,
 * docs/protocol.md#p2p]. Hardened against the original's S3: only a proxy named in our own directory entry
 * (`proxy` or `proxies`) may make us dial, the token must be 32 bytes, dials time out, and concurrent dials are bounded.
 *
 * Drain (ours): each tunnel is kept under the proxy operator that asked for it and the internal endpoint
 * it named, so that when that proxy says it is stopping (a drain notice on our reverse stream to its
 * operator, reverse/dialling-side.ts), exactly its tunnels get GOAWAY: callers open no new calls on them
 * and broker new tunnels elsewhere, calls in flight finish, and the proxy sees the tunnels end.
 */
import { logger } from '../../core/log.js';
import type { Directory } from '../../directory/directory.js';
import { grpcServerSettings } from '../../directory/permissions.js';
import { connectTcp } from '../../grpc/dial.js';
import { Deadline } from '../../core/deadline.js';
import type { GrpcServer } from '../../grpc/server.js';
import type { InjectedConnection } from '../../grpc/injected.js';
import { parseHostPort } from '../../net/host-port.js';
import type { ConnectionRequest } from '../../broker/channel.js';
import type { P2pTunnels } from './tunnel-log.js';
import { trackTunnel } from './metrics.js';

const log = logger('p2p-callee');

export const TOKEN_BYTES = 32;
export const DIAL_TIMEOUT_MS = 10_000;
export const MAX_PENDING_DIALS = 64;

/** The tunnels brokered by one proxy operator through one of its internal endpoints. */
const tunnelKey = (proxy: string, endpoint: string): string => JSON.stringify([proxy, endpoint]);

export class P2pCallee {
  private pending = 0;
  /** Live tunnels by tunnelKey; entries leave with their sockets (bounded by the open sockets). */
  private readonly tunnels = new Map<string, Set<InjectedConnection>>();

  constructor(
    private readonly ownName: string,
    private readonly directory: Directory,
    private readonly tunnelLog?: P2pTunnels,
  ) {}

  async handle(request: ConnectionRequest, server: GrpcServer): Promise<boolean> {
    const own = this.directory.entry(this.ownName);
    const proxies = (own && grpcServerSettings(own)?.proxies) ?? [];
    if (proxies.length === 0) throw new Error('this operator is not reachable through a proxy');
    if (!proxies.includes(request.caller)) {
      const ours = proxies.map((p) => `'${p}'`).join(', ');
      const noun = proxies.length === 1 ? 'proxy' : 'proxies';
      throw new Error(
        `connection requests are only accepted from our ${noun} ${ours}, not '${request.caller}'`,
      );
    }
    if (request.token.length !== TOKEN_BYTES) throw new Error(`token must be ${TOKEN_BYTES} bytes`);
    if (this.pending >= MAX_PENDING_DIALS) throw new Error('too many connection requests in progress');
    const { host, port } = parseHostPort(request.endpoint);
    this.pending++;
    try {
      const socket = await connectTcp(host, port, Deadline.after(DIAL_TIMEOUT_MS));
      socket.setNoDelay(true);
      await new Promise<void>((resolve, reject) =>
        socket.write(request.token, (err) => (err ? reject(new Error('could not write token')) : resolve())),
      ).catch((e: Error) => {
        socket.destroy();
        throw e;
      });
      trackTunnel('callee', socket);
      this.track(tunnelKey(request.caller, request.endpoint), server.inject(socket));
      const peer = typeof request.client.name === 'string' ? request.client.name : '(unknown)';
      this.tunnelLog?.opened('in', { peer, proxy: request.caller, endpoint: request.endpoint }, socket);
      log.debug('P2P socket handed to the gRPC server', {
        endpoint: request.endpoint,
        client: request.client.name,
      });
      return true;
    } finally {
      this.pending--;
    }
  }

  /**
   * `proxy` (the authenticated operator of the notice) stops its proxy at `endpoint`: GOAWAY on every
   * tunnel it brokered there. Returns how many were told.
   */
  drain(proxy: string, endpoint: string): number {
    const key = tunnelKey(proxy, endpoint);
    const set = this.tunnels.get(key);
    if (!set) return 0;
    const own = this.directory.entry(this.ownName);
    const proxies = (own && grpcServerSettings(own)?.proxies) ?? [];
    if (!proxies.some((p) => p !== proxy)) {
      // No other proxy to move to: GOAWAY now would only make callers fail to broker while this one is
      // down. The tunnels carry on until the proxy ends them; calls cut then say they may have been processed.
      log.info('our only proxy is stopping; its tunnels stay until it closes them', { proxy, endpoint });
      return 0;
    }
    this.tunnels.delete(key);
    for (const tunnel of set) tunnel.close();
    log.info('P2P tunnels told to go away: their proxy is stopping', { proxy, endpoint, tunnels: set.size });
    return set.size;
  }

  /** Live tunnels (all proxies). */
  get tunnelCount(): number {
    let n = 0;
    for (const set of this.tunnels.values()) n += set.size;
    return n;
  }

  private track(key: string, tunnel: InjectedConnection): void {
    let set = this.tunnels.get(key);
    if (!set) this.tunnels.set(key, (set = new Set()));
    set.add(tunnel);
    tunnel.onClose(() => {
      const now = this.tunnels.get(key);
      if (!now?.delete(tunnel) || now.size > 0) return;
      this.tunnels.delete(key);
    });
  }
}
