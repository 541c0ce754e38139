/**
 * Merge rules for settings trees (docs/settings.md#merging): maps merge recursively, lists concatenate,
 * a null never overrides, other combinations take the later value, and a key written as `key!`
 * replaces the earlier value wholesale at any depth. Inputs are never mutated; origin marks travel
 * with the values so the loader can tell which file wrote which key.
 */
import type { JsonObject, JsonValue } from '../core/json.js';
import { isJsonObject } from '../core/json.js';
import { getOrigin, setOrigin } from './origins.js';

/** Suffix that turns a merge into a replacement. */
export const REPLACE_SUFFIX = '!';

/** Sets an own property, even for the key `__proto__`. */
export function assignKey(target: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function copyMark(
  from: JsonValue[] | JsonObject,
  fromKey: string | number,
  to: JsonValue[] | JsonObject,
  toKey: string | number,
): void {
  const file = getOrigin(from, fromKey);
  if (file !== undefined) setOrigin(to, toKey, file);
}

function mergeMaps(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(base)) {
    assignKey(out, key, value);
    copyMark(base, key, out, key);
  }
  for (const [rawKey, value] of Object.entries(over)) {
    const replace = rawKey.length > 1 && rawKey.endsWith(REPLACE_SUFFIX);
    const key = replace ? rawKey.slice(0, -1) : rawKey;
    const present = Object.hasOwn(out, key);
    if (replace) {
      assignKey(out, key, normalize(value));
    } else if (value === null) {
      if (present) continue; // a null never overrides
      assignKey(out, key, null);
    } else {
      assignKey(out, key, mergeSettings(present ? out[key] : undefined, value));
    }
    copyMark(over, rawKey, out, key);
  }
  return out;
}

function normalize(value: JsonValue): JsonValue {
  if (Array.isArray(value)) {
    const out = value.map(normalize);
    value.forEach((_, index) => copyMark(value, index, out, index));
    return out;
  }
  if (isJsonObject(value)) return mergeMaps({}, value);
  return value;
}

/**
 * Merges `over` (the later file) into `base` (what was accumulated so far) and returns a new tree.
 * `base` undefined means "key absent". `!` suffixes are resolved everywhere in `over`.
 */
export function mergeSettings(base: JsonValue | undefined, over: JsonValue): JsonValue {
  if (base === undefined || base === null) return normalize(over);
  if (over === null) return base;
  if (isJsonObject(base) && isJsonObject(over)) return mergeMaps(base, over);
  if (Array.isArray(base) && Array.isArray(over)) {
    const out: JsonValue[] = [...base, ...over.map(normalize)];
    base.forEach((_, index) => copyMark(base, index, out, index));
    over.forEach((_, index) => copyMark(over, index, out, base.length + index));
    return out;
  }
  return normalize(over);
}
