/**
 * TLS certificates that a hostile or misconfigured peer presents, for the pinning tests (issue 10 finding 2):
 * issued by the test intermediate (CA-valid) with any names and validity, or self-signed; a directory that
 * pins a fingerprint for a name; and a capture of the log lines the verifier writes.
 */
import { createHash, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { x509 } from '../../src/tls/x509-provider.js';
import { configureLogging } from '../../src/core/log.js';
import type { DirectoryEntry } from '../../src/core/directory-entry.js';
import { CERTS, pinnedEntries } from './network.js';

const DAY_MS = 86_400_000;
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const RSA_SIGN = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;

export interface PeerCert {
  /** PEM: the leaf, then the intermediate when CA-issued. */
  cert: string;
  key: string;
  /** SHA-256 of the leaf's DER, as the directory pins it. */
  fingerprint: string;
}

export interface PeerCertOptions {
  /** DNS names (the first is also the CN). */
  names: string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Signed by its own key instead of the test intermediate. */
  selfSigned?: boolean;
  /** Issued by a CA of its own (not the test PKI's). */
  otherCa?: boolean;
}

function pkcs8Pem(der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

/** A CA that is not the test PKI's: its certificate (PEM), name and signing key. */
async function foreignCa(): Promise<{ pem: string; subject: string; key: CryptoKey }> {
  const keys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: `01${randomBytes(8).toString('hex')}`,
    name: 'CN=Foreign Test CA',
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 30 * DAY_MS),
    keys,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  return { pem: cert.toString('pem'), subject: cert.subject, key: keys.privateKey };
}

async function intermediateKey(): Promise<CryptoKey> {
  const der = createPrivateKey(readFileSync(join(CERTS, 'intermediate.key'))).export({
    type: 'pkcs8',
    format: 'der',
  });
  return webcrypto.subtle.importKey('pkcs8', der, RSA_SIGN, false, ['sign']);
}

/** Issues a TLS certificate (server and client use) as `options` say. */
export async function issuePeerCert(options: PeerCertOptions): Promise<PeerCert> {
  const keys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const [cn = 'peer'] = options.names;
  const common = {
    serialNumber: `01${randomBytes(8).toString('hex')}`,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY_MS),
    notAfter: options.notAfter ?? new Date(Date.now() + 30 * DAY_MS),
    extensions: [
      new x509.SubjectAlternativeNameExtension(
        options.names.map((value) => ({ type: 'dns' as const, value })),
      ),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
    ],
  };
  let leaf: x509.X509Certificate;
  let chain = '';
  if (options.selfSigned) {
    leaf = await x509.X509CertificateGenerator.createSelfSigned({
      ...common,
      name: `CN=${cn}`,
      keys,
      signingAlgorithm: EC,
    });
  } else if (options.otherCa) {
    const ca = await foreignCa();
    leaf = await x509.X509CertificateGenerator.create({
      ...common,
      subject: `CN=${cn}`,
      issuer: ca.subject,
      publicKey: keys.publicKey,
      signingKey: ca.key,
      signingAlgorithm: EC,
    });
    chain = ca.pem;
  } else {
    const caPem = readFileSync(join(CERTS, 'intermediate.crt'), 'utf8');
    const ca = new x509.X509Certificate(caPem);
    leaf = await x509.X509CertificateGenerator.create({
      ...common,
      subject: `CN=${cn}`,
      issuer: ca.subject,
      publicKey: keys.publicKey,
      signingKey: await intermediateKey(),
      signingAlgorithm: RSA_SIGN,
    });
    chain = caPem;
  }
  const key = pkcs8Pem(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const fingerprint = createHash('sha256').update(Buffer.from(leaf.rawData)).digest('hex');
  return { cert: `${leaf.toString('pem')}\n${chain}`, key, fingerprint };
}

/** The four certificates every path is tested with, besides a good one. */
export interface HostileCerts {
  /** Issued by the CA for the name, not pinned. */
  unpinned: PeerCert;
  /** Self-signed for the name, and pinned. */
  selfSigned: PeerCert;
  /** Issued by the CA for the name, pinned, expired yesterday. */
  expired: PeerCert;
  /** Issued by the CA for another name ('stranger-1'), pinned for the name. */
  otherName: PeerCert;
}

export async function hostileCerts(name: string): Promise<HostileCerts> {
  const [unpinned, selfSigned, expired, otherName] = await Promise.all([
    issuePeerCert({ names: [name] }),
    issuePeerCert({ names: [name], selfSigned: true }),
    issuePeerCert({
      names: [name],
      notBefore: new Date(Date.now() - 30 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    }),
    issuePeerCert({ names: ['stranger-1'] }),
  ]);
  return { unpinned, selfSigned, expired, otherName };
}

/** The test directory with `fingerprints` pinned (key usage encryption) for `name` in addition. */
export function entriesPinning(
  name: string,
  fingerprints: string[],
  base: Map<string, DirectoryEntry> = pinnedEntries(),
): Map<string, DirectoryEntry> {
  const entry = base.get(name);
  if (!entry) throw new Error(`no test entry '${name}'`);
  const extra = fingerprints.map((fingerprint) => ({ key_usage: 'encryption', fingerprint }));
  base.set(name, { ...entry, certificates: [...entry.certificates, ...extra] });
  return base;
}

/** Collects log lines (JSON format) while `capture` is on; `stop()` restores stderr output. */
export class LogCapture {
  readonly lines: Record<string, unknown>[] = [];

  constructor() {
    configureLogging({
      format: 'json',
      level: 'info',
      write: (line) => this.lines.push(JSON.parse(line) as Record<string, unknown>),
    });
  }

  /** Lines written by the TLS peer verifier. */
  refusals(): Record<string, unknown>[] {
    return this.lines.filter((l) => l.component === 'pinning');
  }

  clear(): void {
    this.lines.length = 0;
  }

  stop(): void {
    configureLogging({ format: 'text', write: (line) => process.stderr.write(line + '\n') });
  }
}
