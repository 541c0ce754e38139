/**
 * Issues the certificates of the development PKI with @peculiar/x509: the self-signed root, the
 * intermediate CA, TLS leaves and record-signing leaves (docs/operations.md#development-pki, with our fixes:
 * consistent validity, key usages on TLS leaves, back-dated notBefore).
 */
import { randomBytes } from 'node:crypto';
import { x509 } from './x509-provider.js';
import {
  CLOCK_SKEW_TOLERANCE_MS,
  DAY_MS,
  INTERMEDIATE_COMMON_NAME,
  INTERMEDIATE_VALIDITY_DAYS,
  LEAF_VALIDITY_DAYS,
  ROOT_COMMON_NAME,
  ROOT_VALIDITY_DAYS,
  SERIAL_NUMBER_BYTES,
  SUBJECT_BASE,
} from './pki-plan.js';
import {
  publicKeySpki,
  rsaSigningCryptoKey,
  RSA_SIGNING_ALGORITHM,
  type GeneratedKeyPair,
  type SubjectPublicKey,
} from './certgen-keys.js';

/** A CA able to sign: its certificate, name and WebCrypto signing key. */
export interface CertificateAuthority {
  name: x509.JsonName;
  certificatePem: string;
  notAfter: Date;
  signingKey: CryptoKey;
  spki: Uint8Array<ArrayBuffer>;
}

export interface IssuedCertificate {
  certificatePem: string;
  notAfter: Date;
}

/** Subject/issuer name with the shared attributes and the given CN. */
export function subjectName(commonName: string): x509.JsonName {
  return [...SUBJECT_BASE.map(([type, value]) => ({ [type]: [value] })), { CN: [commonName] }];
}

function randomSerialHex(): string {
  const bytes = randomBytes(SERIAL_NUMBER_BYTES);
  // Positive and without a leading zero byte, so the DER integer keeps its full length.
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function validity(now: Date, days: number): { notBefore: Date; notAfter: Date } {
  return {
    notBefore: new Date(now.getTime() - CLOCK_SKEW_TOLERANCE_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
  };
}

async function keyIdentifiers(
  subjectSpki: Uint8Array<ArrayBuffer>,
  issuerSpki: Uint8Array<ArrayBuffer>,
): Promise<x509.Extension[]> {
  return [
    await x509.SubjectKeyIdentifierExtension.create(subjectSpki),
    await x509.AuthorityKeyIdentifierExtension.create(issuerSpki),
  ];
}

async function createAuthority(
  commonName: string,
  keys: GeneratedKeyPair,
  issuer: CertificateAuthority | null,
  days: number,
  pathLength: number | undefined,
  now: Date,
): Promise<CertificateAuthority> {
  const name = subjectName(commonName);
  const spki = publicKeySpki(keys);
  const signingKey = await rsaSigningCryptoKey(keys);
  const { notBefore, notAfter } = validity(now, days);
  const usages = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: name,
    issuer: issuer?.name ?? name,
    notBefore,
    notAfter,
    publicKey: spki,
    signingKey: issuer?.signingKey ?? signingKey,
    signingAlgorithm: RSA_SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, pathLength, true),
      // The intermediate also signs with digitalSignature, as the original's v3_intermediate_ca section.
      new x509.KeyUsagesExtension(issuer ? usages | x509.KeyUsageFlags.digitalSignature : usages, true),
      ...(await keyIdentifiers(spki, issuer?.spki ?? spki)),
    ],
  });
  return { name, certificatePem: cert.toString('pem') + '\n', notAfter, signingKey, spki };
}

/** Self-signed root (CA, no path length limit). */
export function createRootAuthority(keys: GeneratedKeyPair, now: Date): Promise<CertificateAuthority> {
  return createAuthority(ROOT_COMMON_NAME, keys, null, ROOT_VALIDITY_DAYS, undefined, now);
}

/** Intermediate CA signed by the root; path length 0 (it may only issue leaves). */
export function createIntermediateAuthority(
  root: CertificateAuthority,
  keys: GeneratedKeyPair,
  now: Date,
): Promise<CertificateAuthority> {
  return createAuthority(INTERMEDIATE_COMMON_NAME, keys, root, INTERMEDIATE_VALIDITY_DAYS, 0, now);
}

async function issueLeaf(
  ca: CertificateAuthority,
  commonName: string,
  keys: SubjectPublicKey,
  extensions: x509.Extension[],
  now: Date,
): Promise<IssuedCertificate> {
  const spki = publicKeySpki(keys);
  const { notBefore, notAfter } = validity(now, LEAF_VALIDITY_DAYS);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: subjectName(commonName),
    issuer: ca.name,
    notBefore,
    notAfter,
    publicKey: spki,
    signingKey: ca.signingKey,
    signingAlgorithm: RSA_SIGNING_ALGORITHM,
    extensions: [...extensions, ...(await keyIdentifiers(spki, ca.spki))],
  });
  return { certificatePem: cert.toString('pem') + '\n', notAfter };
}

/** TLS leaf: SAN DNS:NAME and DNS:*.NAME.local, usable as server and as client certificate. */
export function issueTlsCertificate(
  ca: CertificateAuthority,
  name: string,
  keys: SubjectPublicKey,
  now: Date,
): Promise<IssuedCertificate> {
  return issueLeaf(
    ca,
    name,
    keys,
    [
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: name },
        { type: 'dns', value: `*.${name}.local` },
      ]),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
    ],
    now,
  );
}

/**
 * Record-signing leaf (ECDSA key): SAN URI:iris-name://NAME, URI:iris-group://GROUP, DNS:NAME; key usage
 * digitalSignature; deliberately no EKU (the original's verifier demands codeSigning or no EKU at all).
 */
export function issueSigningCertificate(
  ca: CertificateAuthority,
  name: string,
  group: string,
  keys: SubjectPublicKey,
  now: Date,
): Promise<IssuedCertificate> {
  return issueLeaf(
    ca,
    name,
    keys,
    [
      new x509.SubjectAlternativeNameExtension([
        { type: 'url', value: `iris-name://${name}` },
        { type: 'url', value: `iris-group://${group}` },
        { type: 'dns', value: name },
      ]),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    ],
    now,
  );
}
