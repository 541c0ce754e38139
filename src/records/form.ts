/**
 * Validation primitives that mirror the original's form library (non-strict go-helpers forms,
 * docs/protocol.md#record-normalisation): declared keys only (matched case-insensitively, as the original
 * lower-cases input keys), optional fields where missing/null/"" mean absent, required fields, lenient string
 * lists. Each primitive returns the rebuilt value or throws a schema RecordError carrying the field path.
 */
import type { JsonObject, JsonValue } from '../core/json.js';
import { isJsonObject } from '../core/json.js';
import { RecordError } from './errors.js';

/** A nested validator: input value and its dotted path in, rebuilt value out. */
export type Check<T> = (value: unknown, path: string) => T;

export function fail(path: string, rule: string): never {
  throw new RecordError('schema', rule, { path });
}

export function join(path: string, key: string | number): string {
  return path === '' ? String(key) : `${path}.${key}`;
}

/**
 * Reads a declared field. The original lower-cases every input key, so `Type` also counts as `type`; if several
 * spellings exist, the exact one wins, otherwise the last one in input order (the original's choice is random).
 */
export function field(obj: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  let found: unknown = undefined;
  for (const key of Object.keys(obj)) {
    if (key.toLowerCase() === lower) found = obj[key];
  }
  return found;
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

export function asObject(value: unknown, path: string): Record<string, unknown> {
  if (value === undefined || value === null) fail(path, 'is required');
  if (typeof value !== 'object' || Array.isArray(value)) fail(path, 'must be an object');
  return value as Record<string, unknown>;
}

export function requiredString(value: unknown, path: string): string {
  if (value === undefined || value === null) fail(path, 'is required');
  if (typeof value !== 'string') fail(path, 'must be a string');
  return value;
}

export function optionalString(value: unknown, path: string, fallback: string): string {
  if (isAbsent(value)) return fallback;
  if (typeof value !== 'string') fail(path, 'must be a string');
  return value;
}

export function requiredList<T>(value: unknown, path: string, element: Check<T>): T[] {
  if (value === undefined || value === null) fail(path, 'is required');
  if (!Array.isArray(value)) fail(path, 'must be a list');
  return value.map((item, i) => element(item, join(path, i)));
}

/** Optional list: absent (missing/null/"") gives `fallback` (undefined = omit the key). */
export function optionalList<T>(
  value: unknown,
  path: string,
  element: Check<T>,
  fallback?: T[],
): T[] | undefined {
  if (isAbsent(value)) return fallback === undefined ? undefined : [...fallback];
  return requiredList(value, path, element);
}

/** Free-form object, kept verbatim (nested null/false/0 included) but checked to be plain JSON. */
export function requiredFreeForm(value: unknown, path: string): JsonObject {
  if (value === undefined || value === null) fail(path, 'is required');
  if (!isJsonObject(value)) fail(path, 'must be an object');
  return copyJson(value, path) as JsonObject;
}

export function optionalFreeForm(value: unknown, path: string): JsonObject | undefined {
  if (isAbsent(value)) return undefined;
  return requiredFreeForm(value, path);
}

/**
 * The original's string list: a non-array (including missing/null/a string) silently becomes `[]`; an array
 * must contain strings only.
 */
export function stringList(value: unknown, path: string): string[] {
  if (!Array.isArray(value)) return [];
  return value.map((item, i) => {
    if (typeof item !== 'string') fail(join(path, i), 'must be a string');
    return item;
  });
}

/** Deep copy that rejects anything JSON cannot carry (undefined, functions, NaN, Infinity, class instances). */
export function copyJson(value: unknown, path: string): JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(path, 'must be a finite number');
    return value;
  }
  if (Array.isArray(value)) return value.map((item, i) => copyJson(item, join(path, i)));
  if (typeof value === 'object') {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) fail(path, 'must be plain JSON');
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) {
      // defineProperty: a JSON key "__proto__" must stay data, never become the prototype.
      Object.defineProperty(out, key, {
        value: copyJson(item, join(path, key)),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return fail(path, 'must be plain JSON');
}
