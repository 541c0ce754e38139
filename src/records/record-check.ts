/**
 * The per-record part of record verification [docs/protocol.md#record-verification steps 1–6]: hash,
 * certificate, signer group, pin and chain. Returns the signing message so the (expensive) ECDSA step can run
 * separately, synchronously or on the thread pool.
 */
import type { SignedChangeRecord } from '../core/directory-entry.js';
import type { SigningCertificate } from './certificate.js';
import { loadSigningCertificate, SD_ADMIN_GROUP } from './certificate.js';
import { RecordError } from './errors.js';
import { encodeRecord, sha256Hex, signingMessage } from './hash.js';
import type { TrustStore } from './trust.js';

/** Stable failure codes of record verification. */
export type VerifyFailureCode =
  'unsigned' | 'hash' | 'certificate' | 'not-admin' | 'pin' | 'chain' | 'expired' | 'signature' | 'parent';

export interface VerifyFailure {
  ok: false;
  code: VerifyFailureCode;
  reason: string;
}

export interface PreparedRecord {
  ok: true;
  /** E(M), the bytes the signature must cover. */
  message: Buffer;
  cert: SigningCertificate;
  r: string;
  s: string;
  /** Signer name from the certificate ("" when it has none). */
  signer: string;
}

export function failure(code: VerifyFailureCode, reason: string): VerifyFailure {
  return { ok: false, code, reason };
}

/**
 * Runs verification steps 1–6 for `record` given a pin lookup. Never throws for bad records; failures carry a
 * reason.
 */
export function prepareRecord(
  record: SignedChangeRecord,
  pinFor: (name: string) => string | undefined,
  trust: TrustStore,
  now: number,
): PreparedRecord | VerifyFailure {
  const signature = record.signature;
  if (signature === null) return failure('unsigned', 'record is not signed');
  let encoded: Buffer;
  try {
    encoded = encodeRecord(record.record);
  } catch (err) {
    if (err instanceof RecordError) return failure('hash', `cannot hash record: ${err.message}`);
    throw err;
  }
  const hash = sha256Hex(encoded);
  if (hash !== record.hash) return failure('hash', 'invalid hash value');

  let cert: SigningCertificate;
  try {
    cert = loadSigningCertificate(signature.c);
  } catch (err) {
    if (err instanceof RecordError)
      return failure('certificate', `invalid signing certificate: ${err.message}`);
    throw err;
  }
  const signer = cert.irisName ?? '';
  if (!cert.irisGroups.includes(SD_ADMIN_GROUP)) {
    return failure('not-admin', `signer ${signer} is not in group ${SD_ADMIN_GROUP}`);
  }
  const pin = pinFor(signer);
  if (pin !== undefined && pin !== cert.fingerprint) {
    return failure('pin', `signing certificate does not match the pinned fingerprint for ${signer}`);
  }
  const chain = trust.verify(cert, { now });
  if (!chain.ok) {
    return chain.expired
      ? failure('expired', chain.reason)
      : failure('chain', `certificate chain not valid: ${chain.reason}`);
  }
  const message = signingMessage(record.parent_hash, hash, encoded);
  return { ok: true, message, cert, r: signature.r, s: signature.s, signer };
}
