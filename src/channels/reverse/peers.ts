/**
 * Which peers an operator keeps reverse streams to [docs/protocol.md#servercall]: operators that may call
 * us (their groups appear in our permissions) and that have a public gRPC server, unless they could simply
 * dial our own public server. Unlike the original, an unusable peer entry is skipped, not fatal for the
 * whole round (B6). Ours also keeps one to every proxy operator its own entry names (`proxy`, `proxies`),
 * whatever the permissions, so that each proxy can reach it with `_connectionRequest`.
 */
import type { DirectoryEntry } from '../../core/directory-entry.js';
import { channelOf, getPeers, grpcServerSettings } from '../../directory/permissions.js';

export function reverseStreamPeers(own: DirectoryEntry, entries: DirectoryEntry[]): string[] {
  const withServer = entries.filter((e) => channelOf(e, 'grpc_server'));
  const ownServer = grpcServerSettings(own);
  const ownIsPublic = ownServer !== undefined && !ownServer.internal && ownServer.proxy === '';
  const out: string[] = [];
  for (const peer of getPeers(own, withServer, true)) {
    if (peer.name === own.name) continue;
    if (channelOf(own, 'grpc_server') && channelOf(peer, 'grpc_client') && ownIsPublic) continue;
    if (hasPublicServer(peer)) out.push(peer.name);
  }
  for (const proxy of ownServer?.proxies ?? []) {
    const peer = entries.find((e) => e.name === proxy);
    if (peer && peer.name !== own.name && !out.includes(proxy) && hasPublicServer(peer)) out.push(proxy);
  }
  return out;
}

function hasPublicServer(peer: DirectoryEntry): boolean {
  const server = grpcServerSettings(peer);
  return server !== undefined && !server.internal && server.proxy === '';
}
