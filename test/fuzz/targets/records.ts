/**
 * Directory record parser harness: a signed change record as JSON text, through what the directory does
 * with one (src/records/: normaliseSignedRecord(s), then verifyRecord and ChainVerifier.append against a
 * real test PKI) and what the SD's datastore does (src/sd/record-entry.ts entryToRecord). Asserted:
 * normalising throws only RecordError; verifying and entryToRecord never throw (they return a failure);
 * entryToRecord accepts exactly what normalises; a normalised record encodes, parses and normalises again
 * to the same record (the hash is computed over that form) and survives the datastore round trip; a
 * record only verifies if its hash matches its normalised form.
 */
import fc from 'fast-check';
import type { ChangeRecord, SignedChangeRecord } from '../../../src/core/directory-entry.js';
import { encodeJson } from '../../../src/jsonrpc/write.js';
import {
  ChainVerifier,
  normaliseSignedRecord,
  normaliseSignedRecords,
  recordHash,
  RecordError,
  signRecords,
  TrustStore,
  verifyRecord,
} from '../../../src/records/index.js';
import { entryToRecord, recordToEntry } from '../../../src/sd/record-entry.js';
import { ENTRY_ID_BYTES, SIGNED_RECORD_ENTRY_TYPE } from '../../../src/datastore/entry-codec.js';
import { createTestPki } from '../../helpers/records-pki.js';
import type { Rng } from '../engine/rng.js';
import type { FuzzTarget } from '../engine/types.js';
import { check, onlyTypedErrors, same } from './checks.js';

const OPTIONS = { allowProperties: true };
const CREATED = '2024-05-17T10:00:00Z';

const ENTRY_ID = Buffer.alloc(ENTRY_ID_BYTES, 1);

let trust: TrustStore | undefined;
let chain: SignedChangeRecord[] = [];
let now = 0;

function checkRecord(record: SignedChangeRecord, prior: readonly SignedChangeRecord[]): void {
  const again = normaliseSignedRecord(JSON.parse(encodeJson(record)), undefined, OPTIONS);
  same('record normalised twice', again, record);
  if (!trust) return;
  const verified = verifyRecord(record, prior, trust, { now: () => now });
  if (verified.ok)
    check('a verified record has the hash of its content', recordHash(record.record) === record.hash);
}

function run(input: Buffer): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(input.toString('utf8'));
  } catch {
    return;
  }
  if (Array.isArray(parsed)) {
    let records: SignedChangeRecord[] = [];
    const failed = onlyTypedErrors(() => {
      records = normaliseSignedRecords(parsed, OPTIONS);
    }, [RecordError]);
    if (failed || !trust) return;
    records.forEach((record, i) => checkRecord(record, records.slice(0, i)));
    new ChainVerifier(trust, { now: () => now }).append(records);
    return;
  }
  let record: SignedChangeRecord | undefined;
  onlyTypedErrors(() => {
    record = normaliseSignedRecord(parsed, undefined, OPTIONS);
  }, [RecordError]);
  // The SD's datastore reads the same bytes with entryToRecord, which must agree and never throw.
  const entry = entryToRecord({ type: SIGNED_RECORD_ENTRY_TYPE, id: ENTRY_ID, data: input });
  same('datastore entry verdict', entry.ok ? entry.record : undefined, record);
  if (!record) return;
  checkRecord(record, chain.slice(0, 1));
  const stored = entryToRecord(recordToEntry(record));
  same('record stored and read back', stored.ok ? stored.record : undefined, record);
}

const change = (name: string, section: string, data: unknown[]): ChangeRecord => ({
  name,
  section,
  data: data as ChangeRecord['data'],
  created_at: CREATED,
});

async function seeds(): Promise<Buffer[]> {
  const { root, intermediate, admin } = await createTestPki();
  trust = TrustStore.fromPem([root.pem], [intermediate.pem]);
  now = Date.now();
  chain = signRecords(
    [
      change('hd-1', 'groups', ['health-departments']),
      change('hd-1', 'certificates', [
        { fingerprint: admin.fingerprint, key_usage: 'signing' },
        { fingerprint: 'ab'.repeat(32), key_usage: 'encryption' },
      ]),
      change('hd-1', 'channels', [{ type: 'grpc_server', settings: { address: 'localhost:8888' } }]),
      change('hd-1', 'properties', [{ k: 'v' }]),
    ],
    '',
    admin.key,
    admin.pem,
    OPTIONS,
  );
  return [
    ...chain.map((r) => Buffer.from(JSON.stringify(r))),
    Buffer.from(JSON.stringify(chain.slice(0, 3))),
  ];
}

/** Seed records with one field replaced by a generated JSON value. */
function generate(rng: Rng, count: number): Buffer[] {
  if (chain.length === 0) return [];
  const base = chain[rng.below(chain.length)]!;
  const paths = [
    'hash',
    'parent_hash',
    'signature',
    'signature.r',
    'signature.c',
    'record',
    'record.name',
    'record.section',
    'record.created_at',
    'record.data',
  ];
  return fc
    .sample(fc.tuple(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 4 })), {
      seed: rng.next() | 0,
      numRuns: count,
    })
    .map(([path, value]) => {
      const copy = JSON.parse(JSON.stringify(base)) as Record<string, Record<string, unknown>>;
      const [outer, inner] = path.split('.') as [string, string | undefined];
      if (inner === undefined) (copy as Record<string, unknown>)[outer] = value;
      else if (copy[outer]) copy[outer][inner] = value;
      return Buffer.from(JSON.stringify(copy));
    });
}

export const recordsTarget: FuzzTarget = {
  name: 'records',
  maxInputBytes: 16 * 1024,
  sources: ['/src/records/', '/src/sd/record-entry'],
  dictionary: [
    '"section"',
    '"data"',
    '"certificates"',
    '"properties"',
    '"created_at"',
    '"signature"',
    '"-----BEGIN CERTIFICATE-----\\n',
    'Z"',
    '"1970-01-01T00:00:00Z"',
    '[]',
    '{}',
    'null',
    '0',
  ].map((t) => Buffer.from(t)),
  seeds,
  generate,
  run,
};
