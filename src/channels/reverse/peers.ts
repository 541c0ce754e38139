/**
 * Which peers an operator keeps reverse streams to [docs/protocol.md#servercall]: operators that may call
 * us (their groups appear in our permissions) and that have a public gRPC server, unless they could simply
 * dial our own public server. Unlike the original, an unusable peer entry is skipped, not fatal for the
 * whole round (B6).
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
    const server = grpcServerSettings(peer);
    if (!server || server.internal || server.proxy !== '') continue;
    out.push(peer.name);
  }
  return out;
}
