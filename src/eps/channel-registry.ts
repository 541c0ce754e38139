/** Channel types by settings `type`; adding a channel kind means adding a file and one line here. */
import type { Broker } from '../broker/broker.js';
import type { Channel } from '../broker/channel.js';
import { GrpcClientChannel, type GrpcClientConfig } from '../channels/grpc-client.js';
import { GrpcServerChannel, type GrpcServerConfig } from '../channels/grpc-server.js';
import { JsonRpcClientChannel } from '../channels/jsonrpc-client.js';
import { JsonRpcServerChannel, type GatewayConfig } from '../channels/jsonrpc-server.js';
import { StdoutChannel } from '../channels/stdout.js';
import { P2pCallee } from '../channels/p2p/callee.js';
import { p2pDialer } from '../channels/p2p/caller.js';
import { ReverseStreamRegistry } from '../channels/reverse/accepting-side.js';
import { ReverseStreamKeeper } from '../channels/reverse/dialling-side.js';
import type { Directory } from '../directory/directory.js';
import type { JsonRpcClientConfig } from '../jsonrpc/client.js';
import type { StatusParts } from './status/parts.js';
import { grpcServerSettings } from '../directory/permissions.js';

/** Whether `peer`'s directory entry names `proxy` among its proxies. */
function namesAsProxy(directory: Directory, peer: string, proxy: string): boolean {
  const entry = directory.entry(peer);
  return (entry && grpcServerSettings(entry)?.proxies.includes(proxy)) ?? false;
}

export type ChannelItem =
  | { name: string; type: 'stdout'; settings: Record<string, never> | object }
  | { name: string; type: 'jsonrpc_client'; settings: JsonRpcClientConfig }
  | { name: string; type: 'jsonrpc_server'; settings: GatewayConfig }
  | { name: string; type: 'grpc_client'; settings: GrpcClientConfig }
  | { name: string; type: 'grpc_server'; settings: GrpcServerConfig };

export interface ChannelContext {
  ownName: string;
  broker: Broker;
  directory: Directory;
  /** Where the channels' live state is registered for the status page (status/parts.ts). */
  parts?: StatusParts;
}

export function createChannel(item: ChannelItem, ctx: ChannelContext): Channel {
  switch (item.type) {
    case 'stdout':
      return new StdoutChannel(ctx.ownName);
    case 'jsonrpc_client':
      return new JsonRpcClientChannel(ctx.ownName, item.settings);
    case 'jsonrpc_server':
      return new JsonRpcServerChannel(ctx.broker, item.settings);
    case 'grpc_client': {
      const channel = new GrpcClientChannel(ctx.ownName, ctx.directory, item.settings);
      const tunnels = ctx.parts?.tunnels;
      channel.setProxyDialer(
        p2pDialer(ctx.ownName, ctx.broker, channel.tls, channel.connectTimeoutMs, undefined, tunnels),
      );
      const keeper = new ReverseStreamKeeper(ctx.ownName, ctx.directory, ctx.broker, (peer, deadline) =>
        channel.session(peer, deadline),
      );
      channel.setReverseStreams(keeper);
      ctx.parts?.pools.push(channel.pool);
      ctx.parts?.dialled.push(keeper);
      return channel;
    }
    case 'grpc_server': {
      const streams = new ReverseStreamRegistry(ctx.ownName);
      // A peer reachable only over its reverse stream is back: its queued asynchronous messages go now.
      streams.onOpened = (peer) => ctx.broker.async?.peerSeen(peer);
      const callee = new P2pCallee(ctx.ownName, ctx.directory, ctx.parts?.tunnels);
      ctx.parts?.accepted.push(streams);
      return new GrpcServerChannel(ctx.broker, item.settings, {
        handlers: { bidi: { '/EPS/ServerCall': (stream, call) => streams.handle(stream, call) } },
        canDeliverTo: (address) => streams.canDeliverTo(address),
        deliver: (request, address, scope) => streams.deliver(request, address, scope),
        handleConnectionRequest: (request, server) => callee.handle(request, server),
        // Drain notices go to the operators that name us as their proxy (they hold our tunnels' ends).
        announceProxyDrain: (endpoint) =>
          streams.announceDrain(endpoint, (peer) => namesAsProxy(ctx.directory, peer, ctx.ownName)),
        drainTunnels: (proxy, endpoint) => callee.drain(proxy, endpoint),
        close: () => streams.closeAll(),
      });
    }
  }
}
