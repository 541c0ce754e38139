/**
 * THE check of every TLS session with another operator [docs/protocol.md#identity-by-pinning], on both
 * ends: a server we dialled (first dial, reconnect, pooled session, P2P caller) and a client we accepted
 * (gRPC port, P2P callee, ServerCall streams); `verifyAllowedClient` applies the same certificate checks to
 * the callers of a proxy control API, which settings name instead of the directory. `verifyPeer` is the
 * only code that constructs a `PinnedPeer`, so code holding one holds a session that passed every check; code that needs the peer's
 * identity takes a PinnedPeer, never a raw socket or certificate.
 *
 * Checks, in this order (the first failing one is the reason refused with):
 *   certificate presented → not self-signed → within its validity period → chains to the configured CA
 *   (the only check that `insecure_skip_verify` / `verify_client: false` skip) → carries the dialled
 *   operator's name → pinned in the directory (for that name when dialled, for any name when accepted).
 * A refusal is logged here, once, with the peer and a reason code; callers only close the socket.
 */
import tls, { type PeerCertificate, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { CodedError } from '../core/errors.js';
import type { FailureKind } from '../core/outcome.js';
import type { DirectoryEntry } from '../core/directory-entry.js';
import { systemClock, type Clock } from '../core/clock.js';
import { logger } from '../core/log.js';
import { identitiesFor, peerKey, type PeerIdentity, type PeerKey } from './identity.js';
import { countRefusal, type RefusalPath } from './metrics.js';

const log = logger('pinning');

export type PeerRefusalCode =
  | 'ERR_CERT_PEER_MISSING'
  | 'ERR_CERT_PEER_SELF_SIGNED'
  | 'ERR_CERT_PEER_EXPIRED'
  | 'ERR_CERT_PEER_NOT_YET_VALID'
  | 'ERR_CERT_PEER_UNTRUSTED'
  | 'ERR_CERT_PEER_NAME_MISMATCH'
  | 'ERR_CERT_PEER_NOT_PINNED';

/** A peer's TLS session was refused; `code` says why, `peer` who (operator name or certificate names). */
export class PeerRefusedError extends CodedError<PeerRefusalCode> {
  readonly failure: FailureKind = 'unauthenticated';

  constructor(
    code: PeerRefusalCode,
    readonly peer: string,
    readonly reason: string,
  ) {
    super(code, `peer '${peer}' refused (${code}): ${reason}`);
    this.name = 'PeerRefusedError';
  }
}

export type DirectoryLookup = (name: string) => DirectoryEntry | undefined;

/** What a session must satisfy. */
export interface PeerPolicy {
  /** The operator we dialled: a name of the certificate and pinned for it. Unset (accepting): any pinned name. */
  operator?: string | undefined;
  /** Check the chain to the configured CA (false: insecure_skip_verify / verify_client: false). */
  requireCaChain: boolean;
  lookup: DirectoryLookup;
  /** Time source of the validity check (default: the system clock). */
  clock?: Clock | undefined;
  /** Where the session is checked, for the refusal counter (tls/metrics.ts). */
  path: RefusalPath;
}

let construct: (key: PeerKey, identities: PeerIdentity[], notAfter: number, label: string) => PinnedPeer;

/** A TLS peer that passed every check of `verifyPeer`; only this module constructs one. */
export class PinnedPeer {
  static {
    construct = (key, identities, notAfter, label) => new PinnedPeer(key, identities, notAfter, label);
  }

  private constructor(
    /** The certificate's candidate names and SHA-256 fingerprint. */
    readonly key: PeerKey,
    /** Names the directory pins this certificate for (when checked); never empty. */
    readonly identities: readonly PeerIdentity[],
    /** End of the certificate's validity (ms since the epoch). */
    readonly notAfter: number,
    /** Who, for logs: the dialled operator, or the names an accepted client is pinned for. */
    readonly label: string,
  ) {}

  /** The pinned identity named `name`, if the certificate is pinned for it. */
  identity(name: string): PeerIdentity | undefined {
    return this.identities.find((i) => i.name === name);
  }
}

type Refusal = { code: PeerRefusalCode; reason: string };

/** Names of a certificate for logs (the common name usually repeats as a DNS name). */
function namesOf(key: PeerKey | undefined): string {
  return key ? [...new Set(key.names)].join(',') || '(no names)' : '(no certificate)';
}

/** OpenSSL's chain verdict (socket.authorizationError) as our reason. */
function chainRefusal(error: string): Refusal {
  if (error === 'DEPTH_ZERO_SELF_SIGNED_CERT')
    return { code: 'ERR_CERT_PEER_SELF_SIGNED', reason: `self-signed certificate (${error})` };
  if (error === 'CERT_HAS_EXPIRED')
    return { code: 'ERR_CERT_PEER_EXPIRED', reason: `a certificate of its chain has expired (${error})` };
  if (error === 'CERT_NOT_YET_VALID')
    return {
      code: 'ERR_CERT_PEER_NOT_YET_VALID',
      reason: `a certificate of its chain is not yet valid (${error})`,
    };
  return {
    code: 'ERR_CERT_PEER_UNTRUSTED',
    reason: `certificate does not chain to the configured CA (${error})`,
  };
}

/**
 * A leaf that signed itself. OpenSSL's chain verdict says so when it got that far; otherwise (it stops at
 * the first problem, e.g. an expired certificate) equal subject and issuer names with a signature that the
 * certificate's own key verifies. Parsed again only in that rare case (not checkIssued: OpenSSL's issuer
 * check also wants keyCertSign, which a leaf lacks).
 */
function isSelfSigned(socket: TLSSocket, cert: PeerCertificate): boolean {
  // Typed as an Error, but Node sets OpenSSL's code (a string).
  if (String(socket.authorizationError) === 'DEPTH_ZERO_SELF_SIGNED_CERT') return true;
  if (JSON.stringify(cert.subject) !== JSON.stringify(cert.issuer)) return false;
  const x509 = new X509Certificate(cert.raw);
  return x509.verify(x509.publicKey);
}

function certificateRefusal(
  socket: TLSSocket,
  cert: PeerCertificate,
  policy: PeerPolicy,
): Refusal | undefined {
  if (isSelfSigned(socket, cert)) {
    return { code: 'ERR_CERT_PEER_SELF_SIGNED', reason: 'self-signed certificate' };
  }
  const now = (policy.clock ?? systemClock).now();
  if (now < Date.parse(cert.valid_from))
    return { code: 'ERR_CERT_PEER_NOT_YET_VALID', reason: `certificate not valid before ${cert.valid_from}` };
  if (now > Date.parse(cert.valid_to))
    return { code: 'ERR_CERT_PEER_EXPIRED', reason: `certificate expired at ${cert.valid_to}` };
  if (policy.requireCaChain && !socket.authorized) {
    return chainRefusal(String(socket.authorizationError ?? 'not verified'));
  }
  if (policy.operator !== undefined && tls.checkServerIdentity(policy.operator, cert) !== undefined) {
    return { code: 'ERR_CERT_PEER_NAME_MISMATCH', reason: `certificate is not for '${policy.operator}'` };
  }
  return undefined;
}

function pinRefusal(
  key: PeerKey,
  identities: PeerIdentity[],
  operator: string | undefined,
): Refusal | undefined {
  if (operator === undefined) {
    if (identities.length > 0) return undefined;
    return {
      code: 'ERR_CERT_PEER_NOT_PINNED',
      reason: `fingerprint ${key.fingerprint} is not pinned for any of its names`,
    };
  }
  if (identities.some((i) => i.name === operator)) return undefined;
  return {
    code: 'ERR_CERT_PEER_NOT_PINNED',
    reason: `fingerprint ${key.fingerprint} is not in the directory for '${operator}'`,
  };
}

/** Logs and counts the refusal (the one line per refused session) and returns the error to throw. */
function refuse(
  path: RefusalPath,
  who: string,
  refusal: Refusal,
  fields: Record<string, unknown> = {},
): PeerRefusedError {
  countRefusal(path, refusal.code);
  log.warn('TLS peer refused', { peer: who, path, code: refusal.code, reason: refusal.reason, ...fields });
  return new PeerRefusedError(refusal.code, who, refusal.reason);
}

/**
 * Checks an established TLS session (after 'secureConnect' / 'secureConnection'; also resumed sessions)
 * and returns its PinnedPeer, or logs the refusal once and throws PeerRefusedError. The caller destroys
 * the socket on a throw.
 */
export function verifyPeer(socket: TLSSocket, policy: PeerPolicy): PinnedPeer {
  const cert = socket.getPeerCertificate();
  const key = cert && cert.raw ? peerKey(cert) : undefined;
  const who = policy.operator ?? namesOf(key);
  const fields = { remote: socket.remoteAddress };
  const { path } = policy;
  if (!key)
    throw refuse(path, who, { code: 'ERR_CERT_PEER_MISSING', reason: 'no certificate presented' }, fields);
  const refusal = certificateRefusal(socket, cert, policy);
  if (refusal) throw refuse(path, who, refusal, { ...fields, names: namesOf(key) });
  const identities = identitiesFor(key, policy.lookup);
  const unpinned = pinRefusal(key, identities, policy.operator);
  if (unpinned) throw refuse(path, who, unpinned, { ...fields, names: namesOf(key) });
  // Once verified, the peer is named by what the directory pins it as.
  const label = policy.operator ?? [...new Set(identities.map((i) => i.name))].join(',');
  return construct(key, identities, Date.parse(cert.valid_to), label);
}

/**
 * The same checks for a client that is named by settings instead of the directory (a proxy's control API,
 * whose only legitimate caller is its own eps node, `allowed_client_names`): the certificate checks of
 * verifyPeer with the CA chain required, then one of its names (CN or DNS SAN) must be allowed. Returns
 * those names, or logs the refusal once and throws PeerRefusedError.
 */
export function verifyAllowedClient(socket: TLSSocket, allowed: readonly string[]): string[] {
  const cert = socket.getPeerCertificate();
  const key = cert && cert.raw ? peerKey(cert) : undefined;
  const who = namesOf(key);
  const fields = { remote: socket.remoteAddress };
  const path = 'proxy_control';
  if (!key)
    throw refuse(path, who, { code: 'ERR_CERT_PEER_MISSING', reason: 'no certificate presented' }, fields);
  const refusal = certificateRefusal(socket, cert, { requireCaChain: true, lookup: () => undefined, path });
  if (refusal) throw refuse(path, who, refusal, fields);
  const names = key.names.filter((n) => allowed.includes(n));
  if (names.length > 0) return names;
  throw refuse(
    path,
    who,
    { code: 'ERR_CERT_PEER_NAME_MISMATCH', reason: `none of its names is allowed (${allowed.join(', ')})` },
    fields,
  );
}

/**
 * The same peer against the directory and the clock as they are now (the directory may have unpinned its
 * certificate, the certificate may have expired while the session was open): a new PinnedPeer, or the
 * refusal. Logs nothing; a caller that ends the session for it calls `refuseSession`.
 */
export function recheckPeer(
  peer: PinnedPeer,
  policy: Omit<PeerPolicy, 'requireCaChain' | 'path'>,
): PinnedPeer | Refusal {
  const now = (policy.clock ?? systemClock).now();
  if (now > peer.notAfter) {
    return {
      code: 'ERR_CERT_PEER_EXPIRED',
      reason: `certificate expired at ${new Date(peer.notAfter).toISOString()}`,
    };
  }
  const identities = identitiesFor(peer.key, policy.lookup);
  const unpinned = pinRefusal(peer.key, identities, policy.operator);
  return unpinned ?? construct(peer.key, identities, peer.notAfter, peer.label);
}

/** Logs and counts the end of an open session whose peer failed `recheckPeer`, once; returns the error. */
export function refuseSession(peer: PinnedPeer, refusal: Refusal, path: RefusalPath): PeerRefusedError {
  return refuse(path, peer.label, refusal, { names: namesOf(peer.key), session: 'open' });
}

export type { Refusal as PeerRefusal };
