/**
 * The `peers`, `streams` and `tunnels` sections of an eps's status [docs/status.md], read from the live
 * state the channels registered (parts.ts) and the broker's call activity: for every peer how this node
 * reaches it (direct, P2P through which proxy, or the ServerCall stream it keeps to us), whether the
 * session is up, and its last call, latency and errors.
 */
import type { CallActivity, PeerActivity } from '../../broker/activity.js';
import type { Directory } from '../../directory/directory.js';
import { getPeers, grpcServerSettings } from '../../directory/permissions.js';
import type { PoolSlotView } from '../../grpc/peer-pool.js';
import type { StatusParts } from './parts.js';

/** Peers listed at most (the ones with activity or a connection first). */
export const MAX_PEERS_SHOWN = 500;

export type Reachability = 'direct' | 'p2p' | 'servercall' | 'none';

export interface PeerView extends Partial<Omit<PeerActivity, 'peer'>> {
  name: string;
  reachability: Reachability;
  /** The address dialled, or the proxy (proxies) a P2P tunnel goes through. */
  via: string;
  /** true: a session or stream is up; false: the last attempts failed; null: not tried yet. */
  reachable: boolean | null;
  session: PoolSlotView['state'] | 'none';
  servercall_in: boolean;
  servercall_out?: 'up' | 'down';
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

export function peersStatus(
  ownName: string,
  directory: Directory,
  parts: StatusParts,
  activity: CallActivity,
): PeerView[] {
  const slots = new Map(parts.pools.flatMap((p) => p.view()).map((s) => [s.peer, s]));
  const accepted = new Set(parts.accepted.flatMap((r) => r.view()).map((s) => s.peer));
  const dialled = new Map(parts.dialled.flatMap((k) => k.view()).map((d) => [d.peer, d]));
  const names = new Set<string>([
    ...activity.allPeers().map((a) => a.peer),
    ...slots.keys(),
    ...accepted,
    ...dialled.keys(),
  ]);
  const own = directory.entry(ownName);
  if (own) for (const e of getPeers(own, directory.entries(), false)) names.add(e.name);
  names.delete(ownName);
  return [...names].slice(0, MAX_PEERS_SHOWN).map((name) => {
    const entry = directory.entry(name);
    const server = entry && grpcServerSettings(entry);
    const slot = slots.get(name);
    const out = dialled.get(name);
    let reachability: Reachability = 'none';
    let via = '';
    if (server !== undefined && !server.internal && server.proxies.length > 0) {
      reachability = 'p2p';
      const used = parts.tunnels.proxyTo(name);
      via = used !== undefined ? `through ${used}` : `through ${server.proxies.join(' or ')}`;
    } else if (server !== undefined && !server.internal) {
      reachability = 'direct';
      via = server.address;
    }
    if (accepted.has(name) && reachability === 'none') {
      reachability = 'servercall';
      via = 'its ServerCall stream to us';
    }
    const up = slot?.state === 'open' || accepted.has(name) || out?.upSince !== undefined;
    const failing = slot !== undefined && slot.state !== 'open' && slot.failures > 0;
    const seen = activity.peer(name);
    const { peer: _peer, ...calls } = seen ?? { peer: name };
    return {
      name,
      reachability,
      via,
      reachable: up ? true : failing ? false : null,
      session: slot?.state ?? 'none',
      servercall_in: accepted.has(name),
      ...(out !== undefined
        ? { servercall_out: out.upSince !== undefined ? ('up' as const) : ('down' as const) }
        : {}),
      ...calls,
    };
  });
}

export function streamsStatus(parts: StatusParts): Record<string, unknown> {
  return {
    accepted: parts.accepted.flatMap((r) => r.view()).map((s) => ({ peer: s.peer, since: iso(s.since) })),
    dialled: parts.dialled
      .flatMap((k) => k.view())
      .map((d) => ({
        peer: d.peer,
        state: d.upSince !== undefined ? 'up' : 'down',
        since: iso(d.upSince),
        last_error: d.lastError ?? null,
      })),
  };
}

export function tunnelsStatus(parts: StatusParts): Record<string, unknown>[] {
  return parts.tunnels.view().map((t) => ({
    direction: t.direction,
    peer: t.peer,
    proxy: t.proxy,
    endpoint: t.endpoint,
    since: iso(t.since),
  }));
}
