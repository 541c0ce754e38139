/**
 * Key pairs for the development PKI: RSA and ECDSA generation on libuv's thread pool (so many keys are
 * made in parallel), PEM export in the formats the original produced, and WebCrypto views for signing.
 */
import { generateKeyPair, webcrypto, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { EC_NAMED_CURVE, RSA_MODULUS_BITS } from './pki-plan.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export type KeyAlgorithmKind = 'rsa' | 'ec';

export interface GeneratedKeyPair {
  kind: KeyAlgorithmKind;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** RSA algorithm used for every signature the CAs make. */
export const RSA_SIGNING_ALGORITHM = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;

export async function generateRsaKeyPair(bits: number = RSA_MODULUS_BITS): Promise<GeneratedKeyPair> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: bits });
  return { kind: 'rsa', privateKey, publicKey };
}

export async function generateEcKeyPair(): Promise<GeneratedKeyPair> {
  const { privateKey, publicKey } = await generateKeyPairAsync('ec', { namedCurve: EC_NAMED_CURVE });
  return { kind: 'ec', privateKey, publicKey };
}

/**
 * PEM of a private key: RSA keys as PKCS#8 "PRIVATE KEY", EC keys as SEC1 "EC PRIVATE KEY" (the form the
 * original's signing code insists on).
 */
export function privateKeyPem(pair: GeneratedKeyPair): string {
  const type = pair.kind === 'ec' ? 'sec1' : 'pkcs8';
  return String(pair.privateKey.export({ type, format: 'pem' }));
}

/** SubjectPublicKeyInfo DER of the pair's public key (a plain ArrayBuffer view, as WebCrypto wants). */
export function publicKeySpki(pair: Pick<GeneratedKeyPair, 'publicKey'>): Uint8Array<ArrayBuffer> {
  return new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' }));
}

/** The public half a certificate is issued for (a generated pair, or the key of a signing request). */
export type SubjectPublicKey = Pick<GeneratedKeyPair, 'publicKey'>;

/** WebCrypto key for signing certificates with an RSA CA key. */
export async function rsaSigningCryptoKey(pair: GeneratedKeyPair): Promise<CryptoKey> {
  if (pair.kind !== 'rsa') throw new TypeError('certificate authorities use RSA keys');
  const der = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', der, RSA_SIGNING_ALGORITHM, false, ['sign']);
}
