/**
 * Turns a `tls` settings block into Node TLS options [docs/protocol.md#tls].
 * Trust comes only from the configured CA files (never the system roots). Unlike the original we require
 * TLS >= 1.2 and only forward-secret cipher suites for TLS 1.2.
 */
import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import { CodedError } from '../core/errors.js';
import { recordCertificate } from './metrics.js';

export interface TlsConfig {
  ca_certificate_files: string[];
  certificate_file?: string | undefined;
  key_file?: string | undefined;
  server_name?: string | undefined;
  verify_client?: boolean | undefined;
  request_client_cert?: boolean | undefined;
  insecure_skip_verify?: boolean | undefined;
}

export class TlsConfigError extends CodedError<'ERR_CERT_CONFIG'> {
  constructor(message: string) {
    super('ERR_CERT_CONFIG', message);
    this.name = 'TlsConfigError';
  }
}

/** ECDHE suites only for TLS 1.2 (forward secrecy); TLS 1.3 suites are Node's defaults. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TlsConfigError(
      `cannot read ${what} '${path}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
}

/** Every certificate from every CA file; a file without certificates is a configuration error. */
export function loadCaCertificates(files: string[]): string[] {
  const out: string[] = [];
  for (const file of files) {
    const pems = readFile(file, 'CA certificate file').toString('utf8').match(PEM_CERT);
    if (!pems) throw new TlsConfigError(`CA certificate file '${file}' contains no PEM certificate`);
    out.push(...pems);
  }
  return out;
}

export interface LoadedTls {
  ca: string[];
  cert?: Buffer;
  key?: Buffer;
  settings: TlsConfig;
}

export function loadTls(settings: TlsConfig): LoadedTls {
  const loaded: LoadedTls = { ca: loadCaCertificates(settings.ca_certificate_files), settings };
  if (settings.certificate_file && settings.key_file) {
    loaded.cert = readFile(settings.certificate_file, 'certificate file');
    loaded.key = readFile(settings.key_file, 'key file');
    if (!PEM_CERT.test(loaded.cert.toString('utf8'))) {
      throw new TlsConfigError(`certificate file '${settings.certificate_file}' contains no PEM certificate`);
    }
    PEM_CERT.lastIndex = 0;
    recordCertificate(settings.certificate_file, loaded.cert);
  }
  return loaded;
}

export function baseContextOptions(tls: LoadedTls): SecureContextOptions {
  const opts: SecureContextOptions = {
    ca: tls.ca,
    minVersion: 'TLSv1.2',
    ciphers: TLS12_CIPHERS,
  };
  if (tls.cert && tls.key) {
    opts.cert = tls.cert;
    opts.key = tls.key;
  }
  return opts;
}

/** Server-side client-certificate policy: verify_client (default) > request_client_cert > none. */
export function serverAuthOptions(tls: LoadedTls): { requestCert: boolean; rejectUnauthorized: boolean } {
  if (tls.settings.verify_client ?? true) return { requestCert: true, rejectUnauthorized: true };
  if (tls.settings.request_client_cert) return { requestCert: true, rejectUnauthorized: false };
  return { requestCert: false, rejectUnauthorized: false };
}
