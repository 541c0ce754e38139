/** The live state the eps channels register for the status page (eps/channel-registry.ts fills it). */
import type { PeerPool } from '../../grpc/peer-pool.js';
import type { ReverseStreamKeeper } from '../../channels/reverse/dialling-side.js';
import type { ReverseStreamRegistry } from '../../channels/reverse/accepting-side.js';
import { P2pTunnels } from '../../channels/p2p/tunnel-log.js';

export interface StatusParts {
  /** The grpc_client channels' session pools. */
  pools: PeerPool[];
  /** ServerCall streams we keep to peers (grpc_client). */
  dialled: ReverseStreamKeeper[];
  /** ServerCall streams peers keep to us (grpc_server). */
  accepted: ReverseStreamRegistry[];
  /** Live P2P tunnels, both directions. */
  tunnels: P2pTunnels;
}

export function newStatusParts(): StatusParts {
  return { pools: [], dialled: [], accepted: [], tunnels: new P2pTunnels() };
}
