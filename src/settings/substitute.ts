/**
 * Variable substitution in string values (docs/settings.md#variables). A string that is exactly `$NAME` takes
 * the variable's typed value; `$NAME` inside a longer string is replaced by its text; `$$` is a literal `$`;
 * a `$` not followed by a letter is left alone. Map keys are never substituted.
 */
import type { JsonObject, JsonValue } from '../core/json.js';
import { isJsonObject } from '../core/json.js';
import { settingsError } from './errors.js';
import { assignKey } from './merge.js';

const WHOLE_VARIABLE = /^\$([A-Za-z][A-Za-z0-9_]*)$/;
const NAME_START = /[A-Za-z]/;
const NAME_PART = /[A-Za-z0-9_]/;

export interface SubstituteContext {
  readonly file: string;
  readonly vars: ReadonlyMap<string, JsonValue>;
  /** Keys whose values are left untouched (the `$include`/`$ref` directives). */
  readonly skipKeys: ReadonlySet<string>;
}

function lookup(name: string, ctx: SubstituteContext, path: readonly string[]): JsonValue {
  const value = ctx.vars.get(name);
  if (value === undefined) {
    throw settingsError(ctx.file, `undefined variable '${name}'`, path);
  }
  return value;
}

/** Substitutes the variables of one string. */
export function substituteString(text: string, ctx: SubstituteContext, path: readonly string[]): JsonValue {
  const whole = WHOLE_VARIABLE.exec(text);
  if (whole !== null) {
    const value = lookup(whole[1] as string, ctx, path);
    return typeof value === 'object' && value !== null ? structuredClone(value) : value;
  }
  let out = '';
  let index = 0;
  while (index < text.length) {
    const char = text[index] as string;
    const next = text[index + 1];
    if (char !== '$' || next === undefined) {
      out += char;
      index++;
    } else if (next === '$') {
      out += '$';
      index += 2;
    } else if (NAME_START.test(next)) {
      let end = index + 2;
      while (end < text.length && NAME_PART.test(text[end] as string)) end++;
      const name = text.slice(index + 1, end);
      const value = lookup(name, ctx, path);
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw settingsError(
          ctx.file,
          `variable '${name}' cannot be embedded in a string (only strings and numbers can)`,
          path,
        );
      }
      out += String(value);
      index = end;
    } else {
      out += char;
      index++;
    }
  }
  return out;
}

/** Returns a copy of `value` with every string value substituted. */
export function substituteTree(
  value: JsonValue,
  ctx: SubstituteContext,
  path: readonly string[] = [],
): JsonValue {
  if (typeof value === 'string') return substituteString(value, ctx, path);
  if (Array.isArray(value))
    return value.map((item, index) => substituteTree(item, ctx, [...path, String(index)]));
  if (isJsonObject(value)) {
    const out: JsonObject = {};
    for (const [key, child] of Object.entries(value)) {
      assignKey(out, key, ctx.skipKeys.has(key) ? child : substituteTree(child, ctx, [...path, key]));
    }
    return out;
  }
  return value;
}
