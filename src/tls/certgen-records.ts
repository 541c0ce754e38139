/**
 * The generated directory record file (`002_certificates.json`): one unsigned `certificates` change record
 * per operator, pinning its signing and TLS ("encryption") leaf fingerprints
 * (docs/protocol.md#record-verification).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ChangeRecord } from '../core/directory-entry.js';

export interface OperatorFingerprints {
  name: string;
  /** Fingerprint of the `NAME-sign.crt` leaf. */
  signing: string;
  /** Fingerprint of the `NAME.crt` leaf. */
  encryption: string;
}

/** RFC 3339 UTC timestamp with whole seconds, e.g. `2024-01-02T03:04:05Z`. */
export function rfc3339Seconds(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

export function certificateRecords(
  operators: readonly OperatorFingerprints[],
  createdAt: Date,
): ChangeRecord[] {
  const created = rfc3339Seconds(createdAt);
  return operators.map((op) => ({
    name: op.name,
    section: 'certificates',
    data: [
      { fingerprint: op.signing, key_usage: 'signing' },
      { fingerprint: op.encryption, key_usage: 'encryption' },
    ],
    created_at: created,
  }));
}

/** Writes `{"records":[…]}` (pretty-printed, trailing newline), creating the folder if needed. */
export async function writeCertificateRecords(
  file: string,
  operators: readonly OperatorFingerprints[],
  createdAt: Date,
): Promise<ChangeRecord[]> {
  const records = certificateRecords(operators, createdAt);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify({ records }, null, 2) + '\n');
  return records;
}
