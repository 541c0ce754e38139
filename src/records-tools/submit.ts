/**
 * Submitting change records to the SD (`eps sd submit-records`, `sd-setup`)
 * [docs/operations.md#record-tools]: normalise the records of every file (in the given order, one chain),
 * chain them onto the SD's tip (or start a new root with `reset`), stamp `created_at` with the signing time,
 * sign with the `signing` identity, verify the batch locally and submit it in one `submitRecords` call.
 */
import { logger } from '../core/log.js';
import type { ChangeRecord, SignedChangeRecord } from '../core/directory-entry.js';
import { SdApiClient } from '../directory/sd-api-client.js';
import { PROPERTIES_SECTION, signRecords, verifyRecord } from '../records/index.js';
import type { ApiDirectorySettings, EpsSettings } from '../settings/index.js';
import { RecordToolError } from './errors.js';
import { readChangeRecordFile } from './record-files.js';
import { loadSigningIdentity, requireSigning } from './signing-identity.js';
import { signingTimes } from './timestamps.js';
import { errorMessage } from '../core/errors.js';

const log = logger('sd-submit');

export interface SubmitOptions {
  /** Start a new chain: the first record gets an empty parent hash. */
  reset?: boolean;
  /** Signing time (default: now). */
  now?: Date;
}

export interface SubmitResult {
  records: SignedChangeRecord[];
  /** Parent hash of the first record ("" for a reset or an empty SD). */
  parent: string;
  /** Endpoint that accepted the submission. */
  endpoint: string;
}

/**
 * The api directory settings, or the original's refusal for a json directory. `purpose` completes the
 * message ("records can only be submitted to an api directory").
 */
export function requireApiDirectory(
  settings: EpsSettings,
  purpose = 'records can only be submitted to',
): ApiDirectorySettings {
  if (settings.directory.type !== 'api') {
    throw new RecordToolError(
      'not-api-directory',
      `not a writable service directory: ${purpose} an api directory (directory.type is ${settings.directory.type})`,
    );
  }
  return settings.directory.settings;
}

/** Reads, signs and submits the records of `files`; returns what was submitted. */
export async function submitRecordFiles(
  settings: EpsSettings,
  files: readonly string[],
  options: SubmitOptions = {},
): Promise<SubmitResult> {
  if (files.length === 0) throw new RecordToolError('input', 'please specify at least one records file');
  const signing = requireSigning(settings);
  const directory = requireApiDirectory(settings);
  const changes: ChangeRecord[] = files.flatMap((file) => readChangeRecordFile(file));
  if (changes.length === 0) throw new RecordToolError('input', 'the records files hold no records');
  if (changes.some((c) => c.section === PROPERTIES_SECTION)) {
    log.warn('submitting properties records: original (Go) nodes refuse chains containing them');
  }
  const identity = loadSigningIdentity(signing, settings.name);

  const client = new SdApiClient(directory);
  try {
    const parent = options.reset ? '' : ((await client.getTip())?.hash ?? '');
    const times = signingTimes(changes.length, options.now);
    const stamped = changes.map((c, i) => ({ ...c, created_at: times[i]! }));
    let signed: SignedChangeRecord[];
    try {
      signed = signRecords(stamped, parent, identity.key, identity.certPem, { allowProperties: true });
    } catch (err) {
      throw new RecordToolError('signing-identity', `cannot sign records: ${errorMessage(err)}`);
    }
    selfVerify(signed, identity.trust);
    for (const record of signed) {
      log.info('signed record', {
        hash: record.hash,
        name: record.record.name,
        section: record.record.section,
      });
    }
    await client.submitRecords(signed);
    return { records: signed, parent, endpoint: client.currentTarget.endpoint };
  } finally {
    client.close();
  }
}

/** Every record must verify (sd-admin signer, chain, signature); pins come from the batch itself. */
function selfVerify(records: readonly SignedChangeRecord[], trust: Parameters<typeof verifyRecord>[2]): void {
  records.forEach((record, i) => {
    const result = verifyRecord(record, records.slice(0, i), trust);
    if (!result.ok) {
      throw new RecordToolError(
        'self-verify',
        `signed record ${i} (${record.record.name}/${record.record.section}) does not verify: ${result.reason}`,
      );
    }
  });
}
