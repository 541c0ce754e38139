/**
 * Applying records to directory entries [docs/protocol.md#applying-records]: each record replaces the section
 * field of its operator's entry wholesale and is appended to the entry's `records`. Unlike the original,
 * preference items keep their payload and a `properties` record sets `displayName`. Entries are
 * copy-on-write: a touched entry is replaced in the map by a fresh object, so entries handed out earlier
 * never change under a reader.
 */
import type { JsonObject, JsonValue } from '../core/json.js';
import { isJsonObject } from '../core/json.js';
import type {
  Certificate,
  ChangeRecord,
  Channel,
  DirectoryEntry,
  Method,
  Parameter,
  Permission,
  PreferenceItem,
  Service,
  SettingsItem,
  SignedChangeRecord,
  Validator,
} from '../core/directory-entry.js';
import { newEntry } from '../core/directory-entry.js';
import { RecordError } from './errors.js';

/**
 * Applies `records` in order to `entries` (updated in place and returned). Records must be normalised.
 * Throws a RecordError for a record of an unknown section; records before it stay applied.
 */
export function applyRecords(
  entries: Map<string, DirectoryEntry>,
  records: readonly SignedChangeRecord[],
): Map<string, DirectoryEntry> {
  const copied = new Set<string>();
  records.forEach((signed, index) => {
    const { name } = signed.record;
    let entry = entries.get(name);
    if (entry === undefined) {
      entry = newEntry(name);
      copied.add(name);
    } else if (!copied.has(name)) {
      entry = { ...entry, records: [...entry.records] };
      copied.add(name);
    }
    applySection(entry, signed.record, index);
    entry.records.push(signed);
    entries.set(name, entry);
  });
  return entries;
}

/** Wraps an unsigned change record (JSON directory) as the original shows it in `records`. */
export function wrapUnsigned(record: ChangeRecord): SignedChangeRecord {
  return { parent_hash: '', hash: '', signature: null, record };
}

/** Applies unsigned change records (JSON directory), wrapping each one. */
export function applyChangeRecords(
  entries: Map<string, DirectoryEntry>,
  records: readonly ChangeRecord[],
): Map<string, DirectoryEntry> {
  return applyRecords(entries, records.map(wrapUnsigned));
}

function applySection(entry: DirectoryEntry, record: ChangeRecord, index: number): void {
  const data = record.data;
  switch (record.section) {
    case 'groups':
      entry.groups = data.map(str);
      break;
    case 'channels':
      entry.channels = objects(data).map(toChannel);
      break;
    case 'services':
      entry.services = objects(data).map(toService);
      break;
    case 'certificates':
      entry.certificates = objects(data).map(toCertificate);
      break;
    case 'settings':
      entry.settings = objects(data).map(toSettingsItem);
      break;
    case 'preferences':
      entry.preferences = objects(data).map(toPreferenceItem);
      break;
    case 'properties': {
      const first = objects(data)[0];
      entry.properties = { displayName: first ? str(first.displayName) : '' };
      break;
    }
    default:
      throw new RecordError('schema', `cannot apply unknown section ${JSON.stringify(record.section)}`, {
        index,
        label: `${record.name}/${record.section}`,
        path: 'section',
      });
  }
}

const str = (value: JsonValue | undefined): string => (typeof value === 'string' ? value : '');
const objects = (list: JsonValue[] | JsonValue | undefined): JsonObject[] =>
  Array.isArray(list) ? list.filter(isJsonObject) : [];
const objectOrNull = (value: JsonValue | undefined): JsonObject | null =>
  isJsonObject(value) ? value : null;
const listOrNull = <T>(value: JsonValue | undefined, map: (o: JsonObject) => T): T[] | null =>
  Array.isArray(value) ? objects(value).map(map) : null;

function toChannel(o: JsonObject): Channel {
  return { type: str(o.type), settings: objectOrNull(o.settings) };
}

function toCertificate(o: JsonObject): Certificate {
  return { fingerprint: str(o.fingerprint), key_usage: str(o.key_usage) };
}

function toPermission(o: JsonObject): Permission {
  return { group: str(o.group), rights: Array.isArray(o.rights) ? o.rights.map(str) : [] };
}

function toValidator(o: JsonObject): Validator {
  return { type: str(o.type), parameters: objectOrNull(o.parameters) };
}

function toParameter(o: JsonObject): Parameter {
  return { name: str(o.name), validators: listOrNull(o.validators, toValidator) };
}

function toMethod(o: JsonObject): Method {
  return {
    name: str(o.name),
    permissions: objects(o.permissions).map(toPermission),
    parameters: listOrNull(o.parameters, toParameter),
  };
}

function toService(o: JsonObject): Service {
  return {
    name: str(o.name),
    permissions: objects(o.permissions).map(toPermission),
    methods: objects(o.methods).map(toMethod),
  };
}

function toSettingsItem(o: JsonObject): SettingsItem {
  return {
    operator: str(o.operator),
    service: str(o.service),
    environment: str(o.environment),
    settings: objectOrNull(o.settings) ?? {},
  };
}

/** Unlike the original, the payload (record key `settings`) is kept as `preferences`. */
function toPreferenceItem(o: JsonObject): PreferenceItem {
  return {
    operator: str(o.operator),
    service: str(o.service),
    environment: str(o.environment),
    preferences: o.settings ?? null,
  };
}
