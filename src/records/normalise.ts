/**
 * Normalisation of change records and signed change records [WIRE, docs/protocol.md#record-normalisation]:
 * every path that hashes, verifies, stores or applies a record first rebuilds it with exactly the original's
 * schema, because the hash is computed over the rebuilt value. Errors name the record index, `name/section`,
 * field and rule.
 */
import type { ChangeRecord, Signature, SignedChangeRecord } from '../core/directory-entry.js';
import { RecordError } from './errors.js';
import { asObject, field, optionalString, requiredString } from './form.js';
import type { NormaliseOptions } from './sections.js';
import { isSection, normaliseSectionData, sectionRule } from './sections.js';
import { parseCreatedAt } from './time.js';

export type { NormaliseOptions, Section } from './sections.js';
export { normaliseSectionData, SECTIONS } from './sections.js';

const PARENT_HASH_PATTERN = /^([a-f0-9]{64}|)$/;
/** 32 bytes of hex; the original's hex check accepts both cases (only lower case verifies later). */
const HASH_PATTERN = /^[0-9a-fA-F]{64}$/;
const SIGNATURE_NUMBER_PATTERN = /^\d{10,100}$/;

/** Normalises one unsigned change record. `index` only decorates error messages. */
export function normaliseChangeRecord(
  raw: unknown,
  index?: number,
  options: NormaliseOptions = {},
): ChangeRecord {
  return withContext(index, labelOf(raw), () => changeRecord(raw, options, ''));
}

/** Normalises one signed change record. */
export function normaliseSignedRecord(
  raw: unknown,
  index?: number,
  options: NormaliseOptions = {},
): SignedChangeRecord {
  const inner =
    typeof raw === 'object' && raw !== null ? field(raw as Record<string, unknown>, 'record') : undefined;
  return withContext(index, labelOf(inner), () => {
    const o = asObject(raw, '');
    const parentHash = optionalString(field(o, 'parent_hash'), 'parent_hash', '');
    if (!PARENT_HASH_PATTERN.test(parentHash)) {
      throw new RecordError('schema', 'must be empty or 64 lower-case hex characters', {
        path: 'parent_hash',
      });
    }
    const hash = requiredString(field(o, 'hash'), 'hash');
    if (!HASH_PATTERN.test(hash)) {
      throw new RecordError('schema', 'must be 64 hex characters (32 bytes)', { path: 'hash' });
    }
    return {
      parent_hash: parentHash,
      hash,
      signature: signature(field(o, 'signature')),
      record: changeRecord(field(o, 'record'), options, 'record'),
    };
  });
}

/** Normalises a list of unsigned change records (e.g. a `{"records": [...]}` file). */
export function normaliseChangeRecords(raw: unknown, options: NormaliseOptions = {}): ChangeRecord[] {
  if (!Array.isArray(raw)) throw new RecordError('schema', 'records must be a list');
  return raw.map((item, i) => normaliseChangeRecord(item, i, options));
}

/** Normalises a list of signed change records (e.g. `submitRecords` params or a `getRecords` result). */
export function normaliseSignedRecords(raw: unknown, options: NormaliseOptions = {}): SignedChangeRecord[] {
  if (!Array.isArray(raw)) throw new RecordError('schema', 'records must be a list');
  return raw.map((item, i) => normaliseSignedRecord(item, i, options));
}

/** `path` names the record object itself ('' at top level); its fields are reported record-relative. */
function changeRecord(raw: unknown, options: NormaliseOptions, path: string): ChangeRecord {
  const o = asObject(raw, path);
  const name = requiredString(field(o, 'name'), 'name');
  const createdAt = parseCreatedAt(requiredString(field(o, 'created_at'), 'created_at')).canonical;
  const section = requiredString(field(o, 'section'), 'section');
  if (!isSection(section, options))
    throw new RecordError('schema', sectionRule(options), { path: 'section' });
  const data = normaliseSectionData(section, field(o, 'data'), options);
  return { name, section, data, created_at: createdAt };
}

function signature(raw: unknown): Signature {
  const o = asObject(raw, 'signature');
  const number = (key: 'r' | 's'): string => {
    const value = requiredString(field(o, key), `signature.${key}`);
    if (!SIGNATURE_NUMBER_PATTERN.test(value)) {
      throw new RecordError('schema', 'must be a decimal integer of 10 to 100 digits', {
        path: `signature.${key}`,
      });
    }
    return value;
  };
  return { r: number('r'), s: number('s'), c: requiredString(field(o, 'c'), 'signature.c') };
}

/** `name/section` of a raw record for error messages, when both are strings. */
function labelOf(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const o = raw as Record<string, unknown>;
  const name = field(o, 'name');
  const section = field(o, 'section');
  if (typeof name !== 'string' && typeof section !== 'string') return undefined;
  return `${typeof name === 'string' ? name : '?'}/${typeof section === 'string' ? section : '?'}`;
}

function withContext<T>(index: number | undefined, label: string | undefined, run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof RecordError) throw err.withRecord(index, label);
    throw err;
  }
}
