/**
 * Certificate fingerprints as the directory stores them [WIRE, docs/protocol.md#identity-by-pinning]:
 * lowercase hex SHA-256 of the leaf certificate's DER bytes, 64 characters, no separators; plus small PEM
 * helpers.
 */
import { createHash } from 'node:crypto';
import { CodedError } from '../core/errors.js';

/** Matches one PEM certificate block; the body is base64 with optional whitespace. */
const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/;

export class PemCertificateError extends CodedError<'ERR_CERT_PEM'> {
  constructor(message: string) {
    super('ERR_CERT_PEM', message);
    this.name = 'PemCertificateError';
  }
}

/** Fingerprint of DER certificate bytes. */
export function fingerprintOfDer(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** Fingerprint of the first certificate in a PEM text (a chain file yields the leaf's fingerprint). */
export function fingerprintOfPem(pem: string): string {
  return fingerprintOfDer(readFirstCertificateDer(pem));
}

/**
 * The first `CERTIFICATE` block of a PEM text, normalised to `-----BEGIN…`, 64-character base64 lines
 * each ending in `\n`, `-----END…\n` (the shape the directory embeds as signature `c`).
 * Blocks of other types before it (e.g. a key) are skipped. Throws PemCertificateError when none exists.
 */
export function readFirstCertificatePem(pem: string): string {
  return derToCertificatePem(readFirstCertificateDer(pem));
}

/** DER bytes of the first `CERTIFICATE` block of a PEM text. */
export function readFirstCertificateDer(pem: string): Buffer {
  const match = CERTIFICATE_BLOCK.exec(pem);
  const body = match?.[1];
  if (body === undefined) throw new PemCertificateError('no PEM block of type CERTIFICATE found');
  const base64 = body.replace(/\s+/g, '');
  const der = Buffer.from(base64, 'base64');
  if (der.length === 0 || der.toString('base64') !== base64) {
    throw new PemCertificateError('PEM CERTIFICATE block holds invalid base64');
  }
  return der;
}

/** PEM text of DER certificate bytes. */
export function derToCertificatePem(der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
