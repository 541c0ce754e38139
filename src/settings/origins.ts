/**
 * Origin tracking: which settings file last wrote each key. Every map or list built by the loader
 * remembers, per child key (list index as a string), the file that wrote that child. The merge and
 * include steps carry these marks along, and `collectOrigins` flattens them into dotted key paths.
 */
import type { JsonValue } from '../core/json.js';
import { isJsonObject } from '../core/json.js';

type Container = JsonValue[] | { [key: string]: JsonValue };

const marks = new WeakMap<object, Map<string, string>>();

function marksOf(container: object): Map<string, string> {
  let map = marks.get(container);
  if (map === undefined) {
    map = new Map();
    marks.set(container, map);
  }
  return map;
}

/** Records that `file` wrote child `key` of `container`. */
export function setOrigin(container: Container, key: string | number, file: string): void {
  marksOf(container).set(String(key), file);
}

/** The file that wrote child `key` of `container`, if recorded. */
export function getOrigin(container: Container, key: string | number): string | undefined {
  return marks.get(container)?.get(String(key));
}

/** Marks every child of every container in `value` as written by `file` (for freshly parsed data). */
export function stampOrigins(value: JsonValue, file: string): void {
  if (Array.isArray(value)) {
    value.forEach((child, index) => {
      setOrigin(value, index, file);
      stampOrigins(child, file);
    });
  } else if (isJsonObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      setOrigin(value, key, file);
      stampOrigins(child, file);
    }
  }
}

/** Flattens the marks of a tree into `dotted.key.path → file`. */
export function collectOrigins(root: JsonValue): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (value: JsonValue, prefix: string): void => {
    const entries: [string, JsonValue][] = Array.isArray(value)
      ? value.map((child, index) => [String(index), child])
      : isJsonObject(value)
        ? Object.entries(value)
        : [];
    for (const [key, child] of entries) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const file = getOrigin(value as Container, key);
      if (file !== undefined) out.set(path, file);
      walk(child, path);
    }
  };
  walk(root, '');
  return out;
}

/** Joins path segments into the dotted form of the origin map. */
export function dottedPath(segments: readonly (string | number)[]): string {
  return segments.map(String).join('.');
}

/**
 * The key path as messages print it: dotted (`channels.3.settings.tls`), except that a key which is not a
 * plain name — a dot or a space inside, e.g. the method name in `method_ttl: {"ls-1.add": 60}` — is put in
 * brackets and quotes (`async.method_ttl["ls-1.add"]`), so it cannot be read as two keys.
 */
export function keyPathLabel(segments: readonly (string | number)[]): string {
  return segments
    .map((part, index) => {
      const text = String(part);
      if (typeof part !== 'number' && !/^[\w$-]+$/.test(text)) return `[${JSON.stringify(text)}]`;
      return index === 0 ? text : `.${text}`;
    })
    .join('');
}

/**
 * The file responsible for `path`: the origin of the longest prefix of `path` that has one (a missing
 * key is blamed on the file that wrote its parent map).
 */
export function originOf(
  origins: ReadonlyMap<string, string>,
  path: readonly (string | number)[],
): string | undefined {
  for (let length = path.length; length > 0; length--) {
    const file = origins.get(dottedPath(path.slice(0, length)));
    if (file !== undefined) return file;
  }
  return undefined;
}
