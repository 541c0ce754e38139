/**
 * Parsing of record-signing certificates [docs/protocol.md#record-signatures]: first PEM block of type
 * CERTIFICATE, X.509, key usage digitalSignature, ECDSA key, signer name and groups from `iris-name://` and
 * `iris-group://` SAN URIs, fingerprint = hex SHA-256 of the DER. Results (and failures) are cached per PEM
 * string, because the same few certificates sign thousands of records.
 */
import type { KeyObject } from 'node:crypto';
import { createHash, X509Certificate } from 'node:crypto';
import { RecordError } from './errors.js';
import { BoundedCache } from './lru.js';
import { encodePem, firstPemBlock } from './pem.js';
import { px509 } from './x509.js';
import { errorMessage } from '../core/errors.js';

/** How many parsed certificates are kept. */
export const CERTIFICATE_CACHE_SIZE = 1024;
export const SD_ADMIN_GROUP = 'sd-admin';
const IRIS_NAME_SCHEME = 'iris-name';
const IRIS_GROUP_SCHEME = 'iris-group';
const KEY_USAGE_DIGITAL_SIGNATURE = 1;
/** Byte length of r and s for the curves Go supports, by OpenSSL curve name. */
const CURVE_COORDINATE_BYTES: Record<string, number> = {
  secp224r1: 28,
  prime256v1: 32,
  secp384r1: 48,
  secp521r1: 66,
};

export interface CertificateInfo {
  /** Canonical PEM of the certificate (64-character lines), as embedded in signatures. */
  pem: string;
  der: Buffer;
  /** Lower-case hex SHA-256 of the DER, no colons. */
  fingerprint: string;
  cert: X509Certificate;
  publicKey: KeyObject;
  subject: string;
  issuer: string;
  notBefore: number;
  notAfter: number;
  /** Basic constraints present with cA = true. */
  isCa: boolean;
  /** Basic constraints path length, undefined when unlimited or absent. */
  maxPathLength: number | undefined;
  /** Extended key usage OIDs, undefined when the extension is absent. */
  extKeyUsages: string[] | undefined;
  /** Signer name from the last `iris-name://` SAN URI. */
  irisName: string | undefined;
  irisGroups: string[];
  dnsNames: string[];
  /** Why this certificate cannot sign records, undefined when it can. */
  signingProblem: string | undefined;
  /** r/s byte length for ECDSA keys. */
  coordinateBytes: number | undefined;
}

/** A certificate that passed the checks of parseCertificate and can sign records. */
export interface SigningCertificate extends CertificateInfo {
  irisName: string | undefined;
  coordinateBytes: number;
}

type CacheEntry = { ok: true; info: CertificateInfo } | { ok: false; error: RecordError };
const cache = new BoundedCache<string, CacheEntry>(CERTIFICATE_CACHE_SIZE);

/** Parses the first PEM block of `pem` as an X.509 certificate (any key type); throws a RecordError. */
export function parseCertificate(pem: string): CertificateInfo {
  let entry = cache.get(pem);
  if (entry === undefined) {
    try {
      entry = { ok: true, info: parseUncached(pem) };
    } catch (err) {
      const error =
        err instanceof RecordError
          ? err
          : new RecordError('certificate', `certificate cannot be parsed: ${errorMessage(err)}`);
      entry = { ok: false, error };
    }
    cache.set(pem, entry);
  }
  if (!entry.ok) throw entry.error;
  return entry.info;
}

/** Parses a record-signing certificate and checks key usage and key type; throws a RecordError. */
export function loadSigningCertificate(pem: string): SigningCertificate {
  const info = parseCertificate(pem);
  if (info.signingProblem !== undefined) throw new RecordError('certificate', info.signingProblem);
  return info as SigningCertificate;
}

/** Forgets every parsed certificate (for benchmarks measuring cold verification, and tests). */
export function clearCertificateCache(): void {
  cache.clear();
}

/** Parses every PEM given, taking only the first block of each (how the original loads CA files). */
export function parseCertificates(pems: readonly string[]): CertificateInfo[] {
  return pems.map((pem) => parseCertificate(pem));
}

/** Lower-case hex SHA-256 over the DER of the first certificate in `pem`. */
export function certificateFingerprint(pem: string): string {
  return parseCertificate(pem).fingerprint;
}

function parseUncached(pem: string): CertificateInfo {
  const block = firstPemBlock(pem);
  if (block.type !== 'CERTIFICATE') {
    throw new RecordError('certificate', `PEM block is of type ${block.type}, not CERTIFICATE`);
  }
  const cert = new X509Certificate(block.der);
  const parsed = new px509.X509Certificate(toArrayBuffer(block.der));

  const basic = parsed.getExtension(px509.BasicConstraintsExtension);
  const keyUsage = parsed.getExtension(px509.KeyUsagesExtension);
  const eku = parsed.getExtension(px509.ExtendedKeyUsageExtension);
  const san = parsed.getExtension(px509.SubjectAlternativeNameExtension);

  let irisName: string | undefined;
  const irisGroups: string[] = [];
  const dnsNames: string[] = [];
  for (const name of san?.names.items ?? []) {
    if (name.type === 'dns') dnsNames.push(name.value);
    if (name.type !== 'url') continue;
    const uri = parseUriHost(name.value);
    if (uri.scheme === IRIS_NAME_SCHEME) irisName = uri.host;
    if (uri.scheme === IRIS_GROUP_SCHEME && uri.host !== '') irisGroups.push(uri.host);
  }

  const publicKey = cert.publicKey;
  const curve = publicKey.asymmetricKeyDetails?.namedCurve;
  const coordinateBytes = curve === undefined ? undefined : CURVE_COORDINATE_BYTES[curve];
  let signingProblem: string | undefined;
  if (keyUsage === null || (keyUsage.usages & KEY_USAGE_DIGITAL_SIGNATURE) === 0) {
    signingProblem = 'certificate key usage does not include digitalSignature';
  } else if (publicKey.asymmetricKeyType !== 'ec') {
    signingProblem = `certificate key is ${publicKey.asymmetricKeyType ?? 'unknown'}, not ECDSA`;
  } else if (coordinateBytes === undefined) {
    signingProblem = `unsupported ECDSA curve ${curve ?? 'unknown'}`;
  }

  return {
    pem: encodePem(block.der),
    der: block.der,
    fingerprint: createHash('sha256').update(block.der).digest('hex'),
    cert,
    publicKey,
    subject: cert.subject,
    issuer: cert.issuer,
    notBefore: parsed.notBefore.getTime(),
    notAfter: parsed.notAfter.getTime(),
    isCa: basic !== null && basic.ca,
    maxPathLength: basic?.pathLength,
    extKeyUsages: eku === null ? undefined : eku.usages.map(String),
    irisName,
    irisGroups,
    dnsNames,
    signingProblem,
    coordinateBytes,
  };
}

function toArrayBuffer(data: Uint8Array): ArrayBuffer {
  const copy = new ArrayBuffer(data.length);
  new Uint8Array(copy).set(data);
  return copy;
}

/**
 * Scheme (lower-cased) and host of a URI as Go's url.Parse sees them: the authority after `//` without user
 * info, including a port, percent-decoded; empty for opaque URIs.
 */
function parseUriHost(uri: string): { scheme: string; host: string } {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(uri);
  if (!m) return { scheme: '', host: '' };
  const scheme = (m[1] ?? '').toLowerCase();
  const rest = m[2] ?? '';
  if (!rest.startsWith('//')) return { scheme, host: '' };
  const authority = rest.slice(2).split(/[/?#]/, 1)[0] ?? '';
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  try {
    return { scheme, host: decodeURIComponent(host) };
  } catch {
    throw new RecordError('certificate', `certificate SAN URI ${JSON.stringify(uri)} cannot be parsed`);
  }
}
