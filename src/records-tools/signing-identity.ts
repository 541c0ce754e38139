/**
 * The signing identity of the record tools, from the `signing` settings block [docs/settings.md#signing,
 * docs/operations.md#record-tools]: the leaf signing certificate (first PEM block), its SEC1 EC private key
 * (PEM type exactly `EC PRIVATE KEY`), and the trust store of the single signing root plus intermediates. The
 * CLI requires the certificate to chain to that root with a DNS name equal to the EPS `name`.
 */
import type { KeyObject } from 'node:crypto';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SigningCertificate } from '../records/index.js';
import { firstPemBlock, loadSigningCertificate, RecordError, TrustStore } from '../records/index.js';
import type { EpsSettings, SigningSettings } from '../settings/index.js';
import { RecordToolError } from './errors.js';
import { errorMessage } from '../core/errors.js';

const SEC1_PEM_TYPE = 'EC PRIVATE KEY';

export interface SigningIdentity {
  /** PEM of the leaf signing certificate (as embedded in signatures). */
  certPem: string;
  cert: SigningCertificate;
  key: KeyObject;
  /** Root (`ca_certificate_file`) and intermediates of the signing block. */
  trust: TrustStore;
}

/** The `signing` block, or the original's refusal when it is missing. */
export function requireSigning(settings: EpsSettings): SigningSettings {
  if (!settings.signing) {
    throw new RecordToolError(
      'no-signing',
      'Signing settings undefined! Add a `signing` block (certificate_file, key_file, ca_certificate_file) ' +
        'to the EPS settings.',
    );
  }
  return settings.signing;
}

function readText(file: string | undefined, what: string): string {
  if (file === undefined) throw new RecordToolError('signing-identity', `signing.${what} is not set`);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new RecordToolError('signing-identity', `cannot read signing.${what} '${file}': ${code}`);
  }
}

/** Trust store of the signing block: the single root plus intermediates (first certificate of each file). */
export function loadSigningTrust(signing: SigningSettings): TrustStore {
  const root = readText(signing.ca_certificate_file, 'ca_certificate_file');
  const intermediates = signing.ca_intermediate_certificate_files.map((f, i) =>
    readText(f, `ca_intermediate_certificate_files[${i}]`),
  );
  try {
    return TrustStore.fromPem([root], intermediates);
  } catch (err) {
    throw new RecordToolError('signing-identity', `invalid signing CA certificate: ${errorMessage(err)}`);
  }
}

/** Loads a SEC1 EC private key; PKCS#8 (`PRIVATE KEY`) is refused like the original does. */
export function loadSec1PrivateKey(pem: string, file: string): KeyObject {
  let block;
  try {
    block = firstPemBlock(pem);
  } catch (err) {
    throw new RecordToolError('signing-identity', `signing key '${file}': ${errorMessage(err)}`);
  }
  if (block.type !== SEC1_PEM_TYPE) {
    throw new RecordToolError(
      'signing-identity',
      `signing key '${file}' is a ${block.type} PEM block; an ${SEC1_PEM_TYPE} (SEC1) block is required`,
    );
  }
  try {
    return createPrivateKey({ key: block.der, format: 'der', type: 'sec1' });
  } catch (err) {
    throw new RecordToolError(
      'signing-identity',
      `signing key '${file}' cannot be read: ${errorMessage(err)}`,
    );
  }
}

/**
 * Loads the signing identity and checks the certificate chain (code signing, valid now) with DNS name
 * `dnsName` (the EPS `name`).
 */
export function loadSigningIdentity(signing: SigningSettings, dnsName: string): SigningIdentity {
  const certPem = readText(signing.certificate_file, 'certificate_file');
  let cert: SigningCertificate;
  try {
    cert = loadSigningCertificate(certPem);
  } catch (err) {
    const why = err instanceof RecordError ? err.message : String(err);
    throw new RecordToolError(
      'signing-identity',
      `signing certificate '${signing.certificate_file}': ${why}`,
    );
  }
  const trust = loadSigningTrust(signing);
  const chain = trust.verify(cert, { dnsName });
  if (!chain.ok) {
    throw new RecordToolError(
      'signing-identity',
      `signing certificate '${signing.certificate_file}' is not valid for ${dnsName}: ${chain.reason}`,
    );
  }
  const keyText = readText(signing.key_file, 'key_file');
  const key = loadSec1PrivateKey(keyText, signing.key_file ?? '');
  return { certPem: cert.pem, cert, key, trust };
}
