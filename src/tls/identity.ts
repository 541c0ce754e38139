/**
 * Peer identification by certificate pinning [WIRE, docs/protocol.md#identity-by-pinning]: the candidate
 * names on a peer certificate (CN, then DNS SANs) that the directory pins with this certificate's SHA-256
 * fingerprint under key usage `encryption`.
 */
import { createHash } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import type { DirectoryEntry } from '../core/directory-entry.js';

export interface PeerIdentity {
  name: string;
  entry: DirectoryEntry;
}

export function sha256Hex(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/** [CN, ...DNS SANs] in certificate order, duplicates kept (as the original). */
export function candidateNames(cert: PeerCertificate): string[] {
  const names: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === 'string' && cn) names.push(cn);
  else if (Array.isArray(cn)) names.push(...cn);
  for (const part of (cert.subjectaltname ?? '').split(', ')) {
    if (part.startsWith('DNS:')) names.push(part.slice(4));
  }
  return names;
}

/** What identification needs of a peer certificate, computed once per connection. */
export interface PeerKey {
  names: string[];
  fingerprint: string;
}

export function peerKey(cert: PeerCertificate): PeerKey | undefined {
  if (!cert.raw) return undefined;
  return { names: candidateNames(cert), fingerprint: sha256Hex(cert.raw) };
}

/**
 * Identities of a peer key against the directory as it is now. Called per call (not only per connection)
 * so that a certificate unpinned from the directory stops working on connections that are already open.
 */
export function identitiesFor(
  key: PeerKey,
  lookup: (name: string) => DirectoryEntry | undefined,
): PeerIdentity[] {
  const out: PeerIdentity[] = [];
  for (const name of key.names) {
    const entry = lookup(name);
    if (!entry) continue;
    if (entry.certificates.some((c) => c.key_usage === 'encryption' && c.fingerprint === key.fingerprint)) {
      out.push({ name, entry });
    }
  }
  return out;
}

/**
 * Selects the identity a caller claims: exact name, or the first one for an empty claim [WIRE,
 * docs/protocol.md#identity-by-pinning].
 */
export function selectIdentity(
  identities: readonly PeerIdentity[],
  claimed: string,
): PeerIdentity | undefined {
  if (claimed === '') return identities[0];
  return identities.find((i) => i.name === claimed);
}
