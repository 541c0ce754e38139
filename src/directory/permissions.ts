/** Permission helpers over directory entries [docs/protocol.md#broker]. All comparisons are exact. */
import type { Channel, DirectoryEntry, Permission, Service } from '../core/directory-entry.js';
import { proxyList } from './proxy-list.js';

export function serviceFor(entry: DirectoryEntry, method: string): Service | undefined {
  return entry.services.find((s) => s.methods.some((m) => m.name === method));
}

function grants(permissions: Permission[], groups: string[]): boolean {
  return permissions.some((p) => (p.group === '*' || groups.includes(p.group)) && p.rights.includes('call'));
}

/** May `caller` call `method` on `callee`? Only the first service listing the method counts. */
export function canCall(caller: DirectoryEntry, callee: DirectoryEntry, method: string): boolean {
  const service = serviceFor(callee, method);
  if (!service) return false;
  const m = service.methods.find((x) => x.name === method);
  return (
    grants(service.permissions, caller.groups) || (m !== undefined && grants(m.permissions, caller.groups))
  );
}

/** Every group named in any service- or method-level permission of the entry. */
export function peerGroups(entry: DirectoryEntry): Set<string> {
  const groups = new Set<string>();
  for (const s of entry.services) {
    for (const p of s.permissions) groups.add(p.group);
    for (const m of s.methods) for (const p of m.permissions) groups.add(p.group);
  }
  return groups;
}

/**
 * Entries that may call `base` (incomingOnly) or that base may call / be called by [docs/protocol.md#broker].
 */
export function getPeers(
  base: DirectoryEntry,
  entries: DirectoryEntry[],
  incomingOnly: boolean,
): DirectoryEntry[] {
  const basePeerGroups = peerGroups(base);
  return entries.filter((e) => {
    if (e.name === base.name) return false;
    if (!incomingOnly) {
      const theirs = peerGroups(e);
      if (base.groups.some((g) => theirs.has(g))) return true;
    }
    return e.groups.some((g) => basePeerGroups.has(g));
  });
}

export function channelOf(entry: DirectoryEntry, type: string): Channel | undefined {
  return entry.channels.find((c) => c.type === type);
}

export interface GrpcServerEntrySettings {
  address: string;
  internal: boolean;
  /** The first proxy (the original's only one); '' when the operator is reached directly. */
  proxy: string;
  /** Every proxy: `proxy`, then `proxies` ([docs/protocol.md#directory-entries]); empty when direct. */
  proxies: string[];
  /** Why `proxies` could not be read (then `proxies` holds only `proxy`). */
  proxiesError?: string | undefined;
}

/** The published `grpc_server` settings; undefined when absent or unusable (no address). */
export function grpcServerSettings(entry: DirectoryEntry): GrpcServerEntrySettings | undefined {
  const ch = channelOf(entry, 'grpc_server');
  const s = ch?.settings;
  if (!s || typeof s.address !== 'string' || s.address === '') return undefined;
  const list = proxyList(s);
  return {
    address: s.address,
    internal: s.internal === true,
    proxy: typeof s.proxy === 'string' ? s.proxy : '',
    proxies: list.proxies,
    ...(list.error !== undefined ? { proxiesError: list.error } : {}),
  };
}
