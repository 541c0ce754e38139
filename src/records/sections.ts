/**
 * Per-section data schemas of change records [WIRE, docs/protocol.md#record-normalisation]. Each `data` is a
 * list whose elements are rebuilt with declared keys only and the original's defaults. `properties` is our
 * addition (data[0] = {displayName}) and only accepted when explicitly allowed, because Go nodes reject it.
 */
import type { JsonObject, JsonValue } from '../core/json.js';
import type { Check } from './form.js';
import {
  asObject,
  fail,
  field,
  join,
  optionalFreeForm,
  optionalList,
  optionalString,
  requiredFreeForm,
  requiredList,
  requiredString,
  stringList,
} from './form.js';

/** The six sections the original accepts, in the order of its schema. */
export const SECTIONS = [
  'channels',
  'certificates',
  'services',
  'preferences',
  'settings',
  'groups',
] as const;
export const PROPERTIES_SECTION = 'properties';
export type Section = (typeof SECTIONS)[number] | typeof PROPERTIES_SECTION;

/** The only right the original knows. */
export const CALL_RIGHT = 'call';

export interface NormaliseOptions {
  /** Accept `properties` records (default false: Go nodes reject them, so they would split the network). */
  allowProperties?: boolean;
}

export function isSection(name: string, options: NormaliseOptions = {}): name is Section {
  return (
    (SECTIONS as readonly string[]).includes(name) ||
    (name === PROPERTIES_SECTION && !!options.allowProperties)
  );
}

/** Builds an object from [key, value] pairs, leaving out undefined values (= omitted optional keys). */
function build(pairs: [string, JsonValue | undefined][]): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of pairs) if (value !== undefined) out[key] = value;
  return out;
}

const rights: Check<string[]> = (value, path) => {
  const list = stringList(value, path);
  const seen = new Set<string>();
  list.forEach((right, i) => {
    if (right !== CALL_RIGHT) fail(join(path, i), `must be "${CALL_RIGHT}"`);
    if (seen.has(right)) fail(join(path, i), `duplicate right "${right}"`);
    seen.add(right);
  });
  return list;
};

const permission: Check<JsonObject> = (value, path) => {
  const o = asObject(value, path);
  return build([
    ['group', requiredString(field(o, 'group'), join(path, 'group'))],
    ['rights', rights(field(o, 'rights'), join(path, 'rights'))],
  ]);
};

const validator: Check<JsonObject> = (value, path) => {
  const o = asObject(value, path);
  return build([
    ['type', requiredString(field(o, 'type'), join(path, 'type'))],
    ['parameters', optionalFreeForm(field(o, 'parameters'), join(path, 'parameters'))],
  ]);
};

const parameter: Check<JsonObject> = (value, path) => {
  const o = asObject(value, path);
  return build([
    ['name', requiredString(field(o, 'name'), join(path, 'name'))],
    ['validators', optionalList(field(o, 'validators'), join(path, 'validators'), validator)],
  ]);
};

const method: Check<JsonObject> = (value, path) => {
  const o = asObject(value, path);
  return build([
    ['name', requiredString(field(o, 'name'), join(path, 'name'))],
    ['permissions', optionalList(field(o, 'permissions'), join(path, 'permissions'), permission, [])],
    ['parameters', optionalList(field(o, 'parameters'), join(path, 'parameters'), parameter)],
  ]);
};

const service: Check<JsonObject> = (value, path) => {
  const o = asObject(value, path);
  return build([
    ['name', requiredString(field(o, 'name'), join(path, 'name'))],
    ['permissions', optionalList(field(o, 'permissions'), join(path, 'permissions'), permission, [])],
    ['methods', optionalList(field(o, 'methods'), join(path, 'methods'), method, [])],
  ]);
};

const channel: Check<JsonObject> = (value, path) => {
  const o = asObject(value, path);
  return build([
    ['type', requiredString(field(o, 'type'), join(path, 'type'))],
    ['settings', optionalFreeForm(field(o, 'settings'), join(path, 'settings'))],
  ]);
};

const certificate: Check<JsonObject> = (value, path) => {
  const o = asObject(value, path);
  return build([
    ['fingerprint', requiredString(field(o, 'fingerprint'), join(path, 'fingerprint'))],
    ['key_usage', requiredString(field(o, 'key_usage'), join(path, 'key_usage'))],
  ]);
};

/** Settings and preferences share one schema; the payload key is `settings` in both. */
const settingsItem: Check<JsonObject> = (value, path) => {
  const o = asObject(value, path);
  return build([
    ['operator', optionalString(field(o, 'operator'), join(path, 'operator'), '')],
    ['service', optionalString(field(o, 'service'), join(path, 'service'), '')],
    ['environment', optionalString(field(o, 'environment'), join(path, 'environment'), '')],
    ['settings', requiredFreeForm(field(o, 'settings'), join(path, 'settings'))],
  ]);
};

const properties: Check<JsonObject> = (value, path) => {
  const o = asObject(value, path);
  return build([['displayName', optionalString(field(o, 'displayName'), join(path, 'displayName'), '')]]);
};

const group: Check<string> = (value, path) => requiredString(value, path);

const ELEMENT_CHECKS: Record<Section, Check<JsonValue>> = {
  channels: channel,
  certificates: certificate,
  services: service,
  preferences: settingsItem,
  settings: settingsItem,
  groups: group,
  properties,
};

/**
 * Normalises the `data` list of a record of the given section. Paths in errors start with `data`.
 * Throws a schema RecordError for an unknown section or invalid data.
 */
export function normaliseSectionData(
  section: string,
  data: unknown,
  options: NormaliseOptions = {},
): JsonValue[] {
  if (!isSection(section, options)) fail('section', sectionRule(options));
  return requiredList(data, 'data', ELEMENT_CHECKS[section]);
}

export function sectionRule(options: NormaliseOptions): string {
  const names: string[] = [...SECTIONS];
  if (options.allowProperties) names.push(PROPERTIES_SECTION);
  return `must be one of ${names.join(', ')}`;
}
