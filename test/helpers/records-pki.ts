// Test PKI for the record tests and the records benchmark: a root CA, an intermediate CA and ECDSA P-256
// record-signing leaves with iris-name/iris-group SAN URIs, generated in memory with @peculiar/x509.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { KeyObject } from 'node:crypto';
import { KeyObject as NodeKeyObject, randomBytes, webcrypto } from 'node:crypto';

const DAY_MS = 86_400_000;
const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const RSA_ALG = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
} as const;

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface TestCa {
  name: string;
  cert: x509.X509Certificate;
  pem: string;
  keys: CryptoKeyPair;
  algorithm: typeof EC_ALG | typeof RSA_ALG;
}

export interface TestSigner {
  pem: string;
  key: KeyObject;
  fingerprint: string;
}

export interface SignerOptions {
  name?: string;
  groups?: string[];
  dnsNames?: string[];
  issuer?: TestCa;
  notBefore?: Date;
  notAfter?: Date;
  /** Extended key usages; undefined = no EKU extension (like the dev PKI). */
  extKeyUsages?: string[];
  /** Key usage flags; default digitalSignature. */
  keyUsage?: number;
  /** Use an RSA key instead of ECDSA. */
  rsa?: boolean;
}

function serial(): string {
  return `01${randomBytes(8).toString('hex')}`;
}

async function generate(alg: typeof EC_ALG | typeof RSA_ALG): Promise<CryptoKeyPair> {
  return await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
}

/** Creates a self-signed root CA (ECDSA by default, RSA-2048 like the dev PKI when `rsa`). */
export async function createRoot(
  name = 'Test Root',
  options: { rsa?: boolean; notAfter?: Date } = {},
): Promise<TestCa> {
  const algorithm = options.rsa ? RSA_ALG : EC_ALG;
  const keys = await generate(algorithm);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: options.notAfter ?? new Date(Date.now() + 1000 * DAY_MS),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  return { name, cert, pem: cert.toString('pem'), keys, algorithm };
}

/** Creates an intermediate CA (path length 0) signed by `issuer`. */
export async function createIntermediate(
  issuer: TestCa,
  name = 'Test Intermediate',
  options: { rsa?: boolean; notAfter?: Date; ca?: boolean; extKeyUsages?: string[] } = {},
): Promise<TestCa> {
  const algorithm = options.rsa ? RSA_ALG : EC_ALG;
  const keys = await generate(algorithm);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(options.ca ?? true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ];
  if (options.extKeyUsages) extensions.push(new x509.ExtendedKeyUsageExtension(options.extKeyUsages));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${name}`,
    issuer: issuer.cert.subject,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: options.notAfter ?? new Date(Date.now() + 300 * DAY_MS),
    signingAlgorithm: issuer.algorithm,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    extensions,
  });
  return { name, cert, pem: cert.toString('pem'), keys, algorithm };
}

/** Issues a record-signing leaf (ECDSA P-256, keyUsage digitalSignature, no EKU by default). */
export async function createSigner(issuer: TestCa, options: SignerOptions = {}): Promise<TestSigner> {
  const algorithm = options.rsa ? RSA_ALG : EC_ALG;
  const keys = await generate(algorithm);
  const names: x509.JsonGeneralName[] = [];
  if (options.name !== undefined) names.push({ type: 'url', value: `iris-name://${options.name}` });
  for (const group of options.groups ?? []) names.push({ type: 'url', value: `iris-group://${group}` });
  for (const dns of options.dnsNames ?? (options.name ? [options.name] : []))
    names.push({ type: 'dns', value: dns });
  const extensions: x509.Extension[] = [
    new x509.KeyUsagesExtension(options.keyUsage ?? x509.KeyUsageFlags.digitalSignature, true),
    new x509.SubjectAlternativeNameExtension(names),
  ];
  if (options.extKeyUsages) extensions.push(new x509.ExtendedKeyUsageExtension(options.extKeyUsages));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${options.name ?? 'anonymous'} signing`,
    issuer: issuer.cert.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY_MS),
    notAfter: options.notAfter ?? new Date(Date.now() + 500 * DAY_MS),
    signingAlgorithm: issuer.algorithm,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    extensions,
  });
  const fingerprint = Buffer.from(await cert.getThumbprint('SHA-256')).toString('hex');
  return { pem: cert.toString('pem'), key: NodeKeyObject.from(keys.privateKey), fingerprint };
}

/** A full test PKI: root, intermediate, an sd-admin signer `hd-1` with an `-alt` twin, a non-admin `op-1`. */
export async function createTestPki(): Promise<{
  root: TestCa;
  intermediate: TestCa;
  admin: TestSigner;
  adminAlt: TestSigner;
  operator: TestSigner;
}> {
  const root = await createRoot();
  const intermediate = await createIntermediate(root);
  const admin = await createSigner(intermediate, { name: 'hd-1', groups: ['sd-admin'] });
  const adminAlt = await createSigner(intermediate, { name: 'hd-1', groups: ['sd-admin'] });
  const operator = await createSigner(intermediate, { name: 'op-1', groups: [] });
  return { root, intermediate, admin, adminAlt, operator };
}
