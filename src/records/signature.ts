/**
 * ECDSA signatures as the original writes them [docs/protocol.md#record-signatures]: standard ECDSA with
 * SHA-256 over the message bytes, `r`/`s` as base-10 strings, `c` = PEM of the signer's leaf certificate.
 * Signing and verification of change records and of generic signed data (`eps sd sign/verify`).
 */
import type { KeyObject } from 'node:crypto';
import { sign, verify } from 'node:crypto';
import type { JsonValue } from '../core/json.js';
import type { ChangeRecord, Signature, SignedChangeRecord } from '../core/directory-entry.js';
import type { SigningCertificate } from './certificate.js';
import { loadSigningCertificate } from './certificate.js';
import { RecordError } from './errors.js';
import { encodeRecord, sha256Hex, signedDataMessage, signingMessage } from './hash.js';
import type { NormaliseOptions } from './normalise.js';
import { normaliseChangeRecord } from './normalise.js';
import type { ChainCheckOptions, TrustStore } from './trust.js';

const HASH_ALGORITHM = 'sha256';
/** The schema wants at least 10 digits for r and s; a shorter value (p ≈ 2^-220) is simply re-signed. */
const MIN_SIGNATURE_DIGITS = 10;
const MAX_SIGN_ATTEMPTS = 8;
const DECIMAL = /^\d+$/;

/** Generic signed-data envelope of `eps sd sign`. */
export interface SignedData {
  signature: Signature;
  data: JsonValue;
}

/** Signs `message` with an EC private key; returns r and s as decimal strings. */
export function ecdsaSign(message: Uint8Array, key: KeyObject): { r: string; s: string } {
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ec') {
    throw new RecordError('signature', 'signing key must be an EC private key');
  }
  for (let attempt = 0; attempt < MAX_SIGN_ATTEMPTS; attempt++) {
    const raw = sign(HASH_ALGORITHM, message, { key, dsaEncoding: 'ieee-p1363' });
    const half = raw.length / 2;
    const r = BigInt(`0x${raw.subarray(0, half).toString('hex')}`).toString(10);
    const s = BigInt(`0x${raw.subarray(half).toString('hex')}`).toString(10);
    if (r.length >= MIN_SIGNATURE_DIGITS && s.length >= MIN_SIGNATURE_DIGITS) return { r, s };
  }
  throw new RecordError('signature', 'could not produce a signature with r and s of at least 10 digits');
}

/**
 * r‖s in IEEE P1363 form for a key with `coordinateBytes`-long coordinates, or null when a value does not fit
 * (such a signature can never verify). Malformed decimal strings are an error, as in the original.
 */
function p1363(r: string, s: string, coordinateBytes: number): Buffer | null {
  if (!DECIMAL.test(r) || !DECIMAL.test(s))
    throw new RecordError('signature', 'r and s must be decimal integers');
  const width = coordinateBytes * 2;
  const rh = BigInt(r).toString(16).padStart(width, '0');
  const sh = BigInt(s).toString(16).padStart(width, '0');
  if (rh.length > width || sh.length > width) return null;
  return Buffer.from(rh + sh, 'hex');
}

/** Verifies an ECDSA-with-SHA-256 signature given as decimal r and s. */
export function ecdsaVerify(
  message: Uint8Array,
  signature: { r: string; s: string },
  key: KeyObject,
  coordinateBytes: number,
): boolean {
  const sig = p1363(signature.r, signature.s, coordinateBytes);
  if (sig === null) return false;
  return verify(HASH_ALGORITHM, message, { key, dsaEncoding: 'ieee-p1363' }, sig);
}

/** Same as ecdsaVerify, but the curve arithmetic runs on libuv's thread pool (uses several cores). */
export function ecdsaVerifyAsync(
  message: Uint8Array,
  signature: { r: string; s: string },
  key: KeyObject,
  coordinateBytes: number,
): Promise<boolean> {
  const sig = p1363(signature.r, signature.s, coordinateBytes);
  if (sig === null) return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    verify(HASH_ALGORITHM, message, { key, dsaEncoding: 'ieee-p1363' }, sig, (err, ok) =>
      err ? reject(err) : resolve(ok),
    );
  });
}

/**
 * Signs one change record as a child of `parentHash` ("" for a root). The record is normalised first (so the
 * hash matches what Go verifiers compute); the signature embeds the leaf of `certPem`. Throws a RecordError,
 * also when the key does not belong to the certificate.
 */
export function signRecord(
  record: ChangeRecord,
  parentHash: string,
  key: KeyObject,
  certPem: string,
  options: NormaliseOptions = {},
): SignedChangeRecord {
  const cert = loadSigningCertificate(certPem);
  const normalised = normaliseChangeRecord(record, undefined, options);
  const encoded = encodeRecord(normalised);
  const hash = sha256Hex(encoded);
  const message = signingMessage(parentHash, hash, encoded);
  return {
    parent_hash: parentHash,
    hash,
    signature: signWithCheck(message, key, cert),
    record: normalised,
  };
}

/** Signs records as one chain: the first gets `parentHash`, each following one its predecessor's hash. */
export function signRecords(
  records: readonly ChangeRecord[],
  parentHash: string,
  key: KeyObject,
  certPem: string,
  options: NormaliseOptions = {},
): SignedChangeRecord[] {
  const out: SignedChangeRecord[] = [];
  let parent = parentHash;
  for (const record of records) {
    const signed = signRecord(record, parent, key, certPem, options);
    out.push(signed);
    parent = signed.hash;
  }
  return out;
}

/** `eps sd sign`: signs E(data) and returns the envelope `{signature, data}`. */
export function signData(data: JsonValue, key: KeyObject, certPem: string): SignedData {
  const cert = loadSigningCertificate(certPem);
  return { signature: signWithCheck(signedDataMessage(data), key, cert), data };
}

export type SignedDataCheck = { ok: true; signer: SigningCertificate } | { ok: false; reason: string };

/**
 * `eps sd verify`: checks the certificate chain (normally with the expected DNS name) and the signature over
 * E(data). No sd-admin requirement and no pinning. Never throws for bad input.
 */
export function verifySignedData(
  envelope: unknown,
  trust: TrustStore,
  options: ChainCheckOptions = {},
): SignedDataCheck {
  try {
    if (typeof envelope !== 'object' || envelope === null)
      return { ok: false, reason: 'not a signed-data object' };
    const { signature, data } = envelope as { signature?: unknown; data?: unknown };
    if (typeof signature !== 'object' || signature === null)
      return { ok: false, reason: 'signature missing' };
    const { r, s, c } = signature as Record<string, unknown>;
    if (typeof r !== 'string' || typeof s !== 'string' || typeof c !== 'string') {
      return { ok: false, reason: 'signature needs string fields r, s and c' };
    }
    if (data === undefined) return { ok: false, reason: 'data missing' };
    const cert = loadSigningCertificate(c);
    const chain = trust.verify(cert, options);
    if (!chain.ok)
      return {
        ok: false,
        reason: chain.expired ? chain.reason : `certificate chain not valid: ${chain.reason}`,
      };
    const message = signedDataMessage(data as JsonValue);
    if (!ecdsaVerify(message, { r, s }, cert.publicKey, cert.coordinateBytes)) {
      return { ok: false, reason: 'invalid signature' };
    }
    return { ok: true, signer: cert };
  } catch (err) {
    if (err instanceof RecordError) return { ok: false, reason: err.message };
    throw err;
  }
}

function signWithCheck(message: Buffer, key: KeyObject, cert: SigningCertificate): Signature {
  const { r, s } = ecdsaSign(message, key);
  if (!ecdsaVerify(message, { r, s }, cert.publicKey, cert.coordinateBytes)) {
    throw new RecordError('signature', 'the signing key does not belong to the signing certificate');
  }
  return { r, s, c: cert.pem };
}
