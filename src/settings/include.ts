/**
 * `$include` and `$ref` directives (docs/settings.md#includes). `$include: file` (or a list of files) merges
 * other settings files, relative to the including file, into the map holding the key; entries are
 * applied in document order, so a sibling key after the include wins over included content.
 * `{ $ref: "a.b.0" }` is replaced by the value at that path of the same file.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { JsonObject, JsonValue } from '../core/json.js';
import { isJsonObject } from '../core/json.js';
import { settingsError } from './errors.js';
import { assignKey, mergeSettings } from './merge.js';
import { getOrigin, setOrigin } from './origins.js';
import { hasSettingsExtension } from './parse.js';

export const INCLUDE_KEY = '$include';
export const REF_KEY = '$ref';

export interface IncludeContext {
  /** Absolute path of the file being expanded. */
  readonly file: string;
  /** Loads an included file through the whole per-file pipeline. */
  readonly load: (file: string) => Promise<JsonValue>;
}

type Container = JsonValue[] | JsonObject;

function copyMark(from: Container, fromKey: string | number, to: Container, toKey: string | number): void {
  const file = getOrigin(from, fromKey);
  if (file !== undefined) setOrigin(to, toKey, file);
}

function includeTargets(value: JsonValue, ctx: IncludeContext, path: readonly string[]): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((item) => typeof item === 'string')) {
    throw settingsError(
      ctx.file,
      `${INCLUDE_KEY} must be a file name or a non-empty list of file names`,
      path,
    );
  }
  return list.map((target) => {
    if (isAbsolute(target)) {
      throw settingsError(ctx.file, `${INCLUDE_KEY} '${target}': absolute paths are not allowed`, path);
    }
    if (!hasSettingsExtension(target)) {
      throw settingsError(
        ctx.file,
        `${INCLUDE_KEY} '${target}': only .yml, .yaml and .json files can be included`,
        path,
      );
    }
    return resolve(dirname(ctx.file), target);
  });
}

async function expandMap(map: JsonObject, ctx: IncludeContext, path: string[]): Promise<JsonValue> {
  const hasSiblings = Object.keys(map).length > 1;
  let acc: JsonValue | undefined;
  for (const [key, value] of Object.entries(map)) {
    const here = [...path, key];
    if (key === INCLUDE_KEY) {
      for (const target of includeTargets(value, ctx, here)) {
        const included = await ctx.load(target);
        if (hasSiblings && !isJsonObject(included)) {
          throw settingsError(
            ctx.file,
            `${INCLUDE_KEY} '${target}' must hold a map when other keys sit next to it`,
            here,
          );
        }
        acc = mergeSettings(acc, included);
      }
      continue;
    }
    const expanded = await expandIncludes(value, ctx, [...path, key]);
    const base: JsonObject = isJsonObject(acc) ? acc : {};
    const out: JsonObject = {};
    for (const [existing, child] of Object.entries(base)) {
      assignKey(out, existing, child);
      copyMark(base, existing, out, existing);
    }
    assignKey(out, key, Object.hasOwn(out, key) ? mergeSettings(out[key], expanded) : expanded);
    copyMark(map, key, out, key);
    acc = out;
  }
  return acc ?? {};
}

/** Returns `value` with every `$include` expanded (recursively, included files use their own pipeline). */
export async function expandIncludes(
  value: JsonValue,
  ctx: IncludeContext,
  path: string[] = [],
): Promise<JsonValue> {
  if (Array.isArray(value)) {
    const out: JsonValue[] = [];
    for (const [index, item] of value.entries()) {
      const expanded = await expandIncludes(item, ctx, [...path, String(index)]);
      const spliced =
        isJsonObject(item) && Object.keys(item).length === 1 && Object.hasOwn(item, INCLUDE_KEY);
      if (spliced && Array.isArray(expanded)) {
        expanded.forEach((element, inner) => {
          out.push(element);
          copyMark(expanded, inner, out, out.length - 1);
        });
      } else {
        out.push(expanded);
        copyMark(value, index, out, out.length - 1);
      }
    }
    return out;
  }
  if (isJsonObject(value)) {
    if (Object.hasOwn(value, INCLUDE_KEY)) return expandMap(value, ctx, path);
    const out: JsonObject = {};
    for (const [key, child] of Object.entries(value)) {
      assignKey(out, key, await expandIncludes(child, ctx, [...path, key]));
      copyMark(value, key, out, key);
    }
    return out;
  }
  return value;
}

function refTarget(value: JsonValue): string | undefined {
  if (!isJsonObject(value)) return undefined;
  const keys = Object.keys(value);
  const target = value[REF_KEY];
  return keys.length === 1 && typeof target === 'string' ? target : undefined;
}

/** Replaces every `{ $ref: "a.b.0" }` map with the value found at that path of `root`. */
export function expandRefs(root: JsonValue, file: string): JsonValue {
  const resolveNode = (value: JsonValue, active: readonly string[], path: string): JsonValue => {
    const target = refTarget(value);
    if (target !== undefined) {
      if (active.includes(target)) throw settingsError(file, `${REF_KEY} '${target}' refers to itself`, path);
      const chain = [...active, target];
      return resolveNode(lookup(target, chain, path), chain, path);
    }
    if (Array.isArray(value)) {
      const out = value.map((item, index) => resolveNode(item, active, `${path}${path ? '.' : ''}${index}`));
      value.forEach((_, index) => copyMark(value, index, out, index));
      return out;
    }
    if (isJsonObject(value)) {
      const out: JsonObject = {};
      for (const [key, child] of Object.entries(value)) {
        assignKey(out, key, resolveNode(child, active, `${path}${path ? '.' : ''}${key}`));
        copyMark(value, key, out, key);
      }
      return out;
    }
    return value;
  };
  const lookup = (target: string, active: readonly string[], path: string): JsonValue => {
    let current: JsonValue = root;
    for (const part of target.split('.')) {
      current = refTarget(current) !== undefined ? resolveNode(current, active, path) : current;
      if (Array.isArray(current)) {
        const index = /^\d+$/.test(part) ? Number(part) : NaN;
        const item = Number.isNaN(index) ? undefined : current[index];
        if (item === undefined) {
          throw settingsError(
            file,
            `${REF_KEY} '${target}': index '${part}' out of range or not a number`,
            path,
          );
        }
        current = item;
      } else if (isJsonObject(current) && Object.hasOwn(current, part)) {
        current = current[part] as JsonValue;
      } else {
        throw settingsError(file, `${REF_KEY} '${target}': key '${part}' not found`, path);
      }
    }
    return current;
  };
  return resolveNode(root, [], '');
}
