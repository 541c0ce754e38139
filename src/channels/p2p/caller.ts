/**
 * Caller side of P2P (A): obtain a token from the callee's proxy (`<proxy>.requestConnection` through our own
 * broker), dial the proxy's internal endpoint, write the 32 raw token bytes, then run TLS as client with
 * SNI = callee name over that socket [WIRE, docs/protocol.md#p2p]. The resulting session is pooled, so later
 * calls reuse the tunnel; a broken tunnel is brokered again on the next call. A callee with several proxies
 * is brokered through the fastest one that works (proxy-choice.ts).
 */
import { randomBytes } from 'node:crypto';
import { isJsonObject } from '../../core/json.js';
import type { Broker } from '../../broker/broker.js';
import { decodeStdBase64 } from '../../broker/internal-methods.js';
import { connectTcp, dialTls, type DialResult } from '../../grpc/dial.js';
import { parseHostPort } from '../../net/host-port.js';
import type { LoadedTls } from '../../tls/options.js';
import { unwrapValue } from '../../jsonrpc/client.js';
import { logger } from '../../core/log.js';
import type { Deadline } from '../../core/deadline.js';
import { Cancellation } from '../../core/cancellation.js';
import { brokerThroughProxies, ProxyLatency } from './proxy-choice.js';
import type { P2pTunnels } from './tunnel-log.js';
import { trackTunnel } from './metrics.js';

const log = logger('p2p-caller');

export const TOKEN_BYTES = 32;

export function p2pDialer(
  ownName: string,
  broker: Broker,
  tls: LoadedTls,
  connectTimeoutMs: number,
  latency: ProxyLatency = new ProxyLatency(),
  tunnels?: P2pTunnels,
): (peer: string, proxies: readonly string[], deadline: Deadline) => Promise<DialResult> {
  const throughOne = async (peer: string, proxy: string, deadline: Deadline): Promise<DialResult> => {
    const id = `${proxy}.requestConnection(${randomBytes(8).toString('hex')})`;
    // Within the dial's own deadline (grpc_client's call_timeout), not a caller's: the tunnel is pooled
    // and shared by every call to the peer, so a caller that gives up does not cancel it. failFast: the
    // calls that need the tunnel wait for the proxy's return (safe-retry.ts), not this one.
    const response = await broker.deliver(
      { method: `${proxy}.requestConnection`, params: { to: peer, channel: 'grpc_server' }, id },
      { name: ownName },
      { deadline, cancellation: new Cancellation(), failFast: true },
    );
    if (!response) throw new Error('proxy returned no connection details');
    if (response.error) throw new Error(response.error.message);
    const result = unwrapValue(response.result);
    if (!isJsonObject(result) || typeof result.token !== 'string' || typeof result.endpoint !== 'string') {
      throw new Error('invalid connection details from proxy');
    }
    const token = decodeStdBase64(result.token);
    if (token.length !== TOKEN_BYTES) throw new Error(`proxy sent a token of ${token.length} bytes`);
    const { host, port } = parseHostPort(result.endpoint);
    // Each of the two connects gets the connect timeout, within the call's deadline.
    const connectBy = (): Deadline => deadline.within(connectTimeoutMs);
    const socket = await connectTcp(host, port, connectBy());
    socket.setNoDelay(true);
    socket.write(token);
    const dialled = await dialTls({
      peer,
      tls,
      lookup: (n) => broker.directory.entry(n),
      deadline: connectBy(),
      socket,
    });
    trackTunnel('caller', dialled.socket);
    log.info('P2P tunnel established', { peer, proxy, endpoint: result.endpoint });
    tunnels?.opened('out', { peer, proxy, endpoint: result.endpoint }, dialled.socket);
    return dialled;
  };
  return (peer, proxies, deadline) =>
    brokerThroughProxies(peer, proxies, latency, deadline, (proxy, share) => throughOne(peer, proxy, share));
}
