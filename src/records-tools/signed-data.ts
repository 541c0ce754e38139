/**
 * `eps sd sign` and `eps sd verify` [docs/operations.md#record-tools]: sign the structured hash of a JSON
 * object with the `signing` identity, producing `{"signature": {r, s, c}, "data": object}`, and verify such an
 * envelope against the signing root and intermediates with an expected DNS name (no sd-admin, no pins).
 */
import { isJsonObject } from '../core/json.js';
import type { SignedData, SignedDataCheck } from '../records/index.js';
import { signData, verifySignedData } from '../records/index.js';
import type { EpsSettings } from '../settings/index.js';
import { RecordToolError } from './errors.js';
import { readJsonFile } from './record-files.js';
import { loadSigningIdentity, loadSigningTrust, requireSigning } from './signing-identity.js';
import { errorMessage } from '../core/errors.js';

/** Signs the JSON object in `file` (the certificate must be valid for the EPS `name`) and re-verifies it. */
export function signJsonFile(settings: EpsSettings, file: string): SignedData {
  const identity = loadSigningIdentity(requireSigning(settings), settings.name);
  const data = readJsonFile(file);
  if (!isJsonObject(data)) throw new RecordToolError('input', `'${file}' must hold a JSON object`);
  let envelope: SignedData;
  try {
    envelope = signData(data, identity.key, identity.certPem);
  } catch (err) {
    throw new RecordToolError('signing-identity', `cannot sign: ${errorMessage(err)}`);
  }
  const check = verifySignedData(envelope, identity.trust, { dnsName: settings.name });
  if (!check.ok) throw new RecordToolError('self-verify', `Signature is not valid! ${check.reason}`);
  return envelope;
}

/** Verifies the signed-data envelope in `file`: chain to the signing root with DNS name `name`, signature. */
export function verifyJsonFile(settings: EpsSettings, file: string, name: string): SignedDataCheck {
  const trust = loadSigningTrust(requireSigning(settings));
  return verifySignedData(readJsonFile(file), trust, { dnsName: name });
}
