/**
 * Parsing one settings file into plain JSON values. YAML follows the 1.1 rules of the original parser
 * (yes/no/on/off/y/n are booleans, 0755 is octal) minus the parts go-yaml v2 never had or hid:
 * base-60 numbers and timestamps stay strings. Non-string map keys are rejected, as in the original.
 */
import YAML from 'yaml';
import type { JsonObject, JsonValue } from '../core/json.js';
import { settingsError } from './errors.js';
import { assignKey } from './merge.js';

/** File name endings the loader reads. `.yaml` is our addition; the original knew only `.yml`. */
export const SETTINGS_EXTENSIONS = ['.yml', '.yaml', '.json'] as const;

/** Most YAML aliases one file may expand (guards against alias bombs). */
const MAX_YAML_ALIASES = 1000;

const TIMESTAMP_TAG = 'tag:yaml.org,2002:timestamp';

/** True for the YAML 1.1 resolvers go-yaml v2 did not apply to untyped values (timestamps, base 60). */
function isDroppedTag(tag: unknown): boolean {
  if (typeof tag !== 'object' || tag === null) return false;
  const { tag: name, format } = tag as { tag?: unknown; format?: unknown };
  return name === TIMESTAMP_TAG || format === 'TIME';
}

export function hasSettingsExtension(file: string): boolean {
  return SETTINGS_EXTENSIONS.some((ext) => file.endsWith(ext));
}

function describeKey(key: unknown): string {
  return typeof key === 'object' && key !== null ? 'a complex key' : `${String(key)} (${typeof key})`;
}

/** Converts the `mapAsMap` output of the YAML parser into JSON values, checking keys and value kinds. */
function toJson(file: string, value: unknown, path: string[]): JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') {
    throw settingsError(file, `integer ${value} is too large`, path.join('.'));
  }
  if (Array.isArray(value)) return value.map((item, index) => toJson(file, item, [...path, String(index)]));
  if (value instanceof Map) {
    const out: JsonObject = {};
    for (const [key, child] of value) {
      if (typeof key !== 'string') {
        throw settingsError(
          file,
          `non-string ${path.length === 0 ? 'top-level ' : ''}map key ${describeKey(key)}; quote it ` +
            '(YAML 1.1 reads y/n/yes/no/on/off as booleans)',
          path.join('.'),
        );
      }
      assignKey(out, key, toJson(file, child, [...path, key]));
    }
    return out;
  }
  throw settingsError(
    file,
    `unsupported YAML value (${Object.prototype.toString.call(value)})`,
    path.join('.'),
  );
}

function parseYaml(file: string, text: string): JsonValue {
  const doc = YAML.parseDocument(text, {
    version: '1.1',
    prettyErrors: true,
    customTags: (tags) => tags.filter((tag) => !isDroppedTag(tag)),
  });
  const first = doc.errors[0];
  if (first !== undefined) {
    const line = first.message.split('\n')[0] ?? first.message;
    throw settingsError(file, `cannot parse YAML: ${line}`);
  }
  try {
    return toJson(file, doc.toJS({ mapAsMap: true, maxAliasCount: MAX_YAML_ALIASES }), []);
  } catch (error) {
    if (error instanceof Error && error.name !== 'SettingsError') {
      throw settingsError(file, `cannot parse YAML: ${error.message}`);
    }
    throw error;
  }
}

function parseJson(file: string, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw settingsError(file, `cannot parse JSON: ${reason}`);
  }
}

/** Parses the text of `file` by its extension. An empty YAML document yields null. */
export function parseSettingsText(file: string, text: string): JsonValue {
  return file.endsWith('.json') ? parseJson(file, text) : parseYaml(file, text);
}
