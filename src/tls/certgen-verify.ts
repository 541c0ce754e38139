/**
 * Self-check of a freshly generated PKI with Node's own X.509 code (OpenSSL): every leaf must be issued
 * and signed by the intermediate, the intermediate by the root, each key must match its certificate and
 * no certificate may outlive its issuer. Any failure throws CertificateGenerationError.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFirstCertificatePem } from './fingerprint.js';
import { CodedError } from '../core/errors.js';

export class CertificateGenerationError extends CodedError<'ERR_CERT_GENERATION'> {
  constructor(message: string) {
    super('ERR_CERT_GENERATION', message);
    this.name = 'CertificateGenerationError';
  }
}

export interface LeafToVerify {
  /** File base name, used in error messages. */
  label: string;
  /** Chain file content: leaf followed by the intermediate. */
  chainPem: string;
  keyPem: string;
}

function fail(message: string): never {
  throw new CertificateGenerationError(`generated PKI failed its self-check: ${message}`);
}

function checkSignedBy(
  label: string,
  cert: X509Certificate,
  issuer: X509Certificate,
  issuerLabel: string,
): void {
  if (!cert.checkIssued(issuer)) fail(`${label} is not issued by ${issuerLabel}`);
  if (!cert.verify(issuer.publicKey)) fail(`${label} signature does not verify with ${issuerLabel}'s key`);
  if (Date.parse(cert.validTo) > Date.parse(issuer.validTo)) fail(`${label} outlives ${issuerLabel}`);
}

function checkKey(label: string, cert: X509Certificate, keyPem: string): void {
  if (!cert.checkPrivateKey(createPrivateKey(keyPem))) fail(`${label} key does not match its certificate`);
}

export function verifyGeneratedPki(
  root: { certPem: string; keyPem: string },
  intermediate: { certPem: string; keyPem: string },
  leaves: readonly LeafToVerify[],
): void {
  const rootCert = new X509Certificate(root.certPem);
  const intermediateCert = new X509Certificate(intermediate.certPem);
  if (!rootCert.ca || !intermediateCert.ca) fail('root and intermediate must be CA certificates');
  checkKey('root', rootCert, root.keyPem);
  checkKey('intermediate', intermediateCert, intermediate.keyPem);
  checkSignedBy('root', rootCert, rootCert, 'root');
  checkSignedBy('intermediate', intermediateCert, rootCert, 'root');
  for (const leaf of leaves) {
    const leafCert = new X509Certificate(readFirstCertificatePem(leaf.chainPem));
    checkKey(leaf.label, leafCert, leaf.keyPem);
    checkSignedBy(leaf.label, leafCert, intermediateCert, 'intermediate');
    if (!leaf.chainPem.endsWith(intermediate.certPem))
      fail(`${leaf.label}.crt must end with the intermediate`);
  }
}
