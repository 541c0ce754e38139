/**
 * The per-file `vars` section (docs/settings.md#variables): each variable comes from the environment, a
 * literal or a terminal prompt, and is checked/converted to string, int, float or any. The built-ins DIR and
 * PATH (directory and path of the file, without their leading slash, as in the original) are added.
 */
import { dirname } from 'node:path';
import type { JsonValue } from '../core/json.js';
import { isJsonObject } from '../core/json.js';
import { settingsError } from './errors.js';
import type { PromptFunction } from './prompt.js';

/** Names a variable may have so that `$NAME` can refer to it. */
export const VARIABLE_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

const VAR_TYPES = ['string', 'int', 'float', 'any'] as const;
const VAR_SOURCES = ['env', 'literal', 'prompt'] as const;
const VAR_FIELDS = new Set(['type', 'source', 'variable', 'value', 'sensitive', 'config']);
const INT_TEXT = /^[+-]?\d+$/;
const FLOAT_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

type VarType = (typeof VAR_TYPES)[number];

export interface VarContext {
  /** Absolute path of the file whose variables these are. */
  readonly file: string;
  readonly env: NodeJS.ProcessEnv;
  readonly prompt: PromptFunction;
  /** Collects non-fatal notices (e.g. a user variable named DIR). */
  readonly warnings: string[];
}

function isOneOf<T extends string>(list: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (list as readonly string[]).includes(value);
}

function convert(name: string, type: VarType, value: JsonValue, file: string): JsonValue {
  const fail = (what: string): never => {
    throw settingsError(file, `variable '${name}' is not ${what}`, `vars.${name}`);
  };
  switch (type) {
    case 'string':
      return typeof value === 'string' ? value : fail('a string');
    case 'int':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
      if (typeof value === 'string' && INT_TEXT.test(value.trim())) {
        const parsed = Number(value.trim());
        if (Number.isSafeInteger(parsed)) return parsed;
      }
      return fail('an integer');
    case 'float':
      if (typeof value === 'number') return value;
      if (typeof value === 'string' && FLOAT_TEXT.test(value.trim())) return Number(value.trim());
      return fail('a float');
    case 'any':
      return value;
  }
}

async function obtain(name: string, def: Record<string, JsonValue>, ctx: VarContext): Promise<JsonValue> {
  const path = `vars.${name}`;
  const source = def['source'];
  if (!isOneOf(VAR_SOURCES, source)) {
    throw settingsError(ctx.file, `variable '${name}' needs source env, literal or prompt`, path);
  }
  if (source === 'env') {
    const variable = def['variable'];
    if (typeof variable !== 'string' || variable === '') {
      throw settingsError(
        ctx.file,
        `variable '${name}' needs 'variable' (the environment variable name)`,
        path,
      );
    }
    const value = ctx.env[variable];
    if (value === undefined) {
      throw settingsError(
        ctx.file,
        `environment variable '${variable}' is not set (needed by variable '${name}')`,
        path,
      );
    }
    return value;
  }
  if (source === 'literal') {
    if (!Object.hasOwn(def, 'value')) {
      throw settingsError(ctx.file, `literal variable '${name}' needs 'value'`, path);
    }
    return def['value'] ?? null;
  }
  const sensitive = def['sensitive'] ?? false;
  if (typeof sensitive !== 'boolean') {
    throw settingsError(ctx.file, `'sensitive' of variable '${name}' must be a boolean`, path);
  }
  try {
    return await ctx.prompt(`Please provide a value for variable '${name}': `, sensitive);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw settingsError(ctx.file, `cannot read variable '${name}': ${reason}`, path);
  }
}

/** The DIR and PATH built-ins for `file`, slash-less as the original exposed them. */
export function builtinVars(file: string): Map<string, string> {
  const strip = (path: string): string => path.replace(/^\/+/, '');
  return new Map([
    ['DIR', strip(dirname(file))],
    ['PATH', strip(file)],
  ]);
}

/** Resolves the `vars` section of one file (null/absent → only the built-ins). */
export async function resolveVars(
  section: JsonValue | undefined,
  ctx: VarContext,
): Promise<Map<string, JsonValue>> {
  const vars = new Map<string, JsonValue>();
  if (section !== undefined && section !== null) {
    if (!isJsonObject(section))
      throw settingsError(ctx.file, 'must be a map of variable definitions', 'vars');
    for (const [name, def] of Object.entries(section)) {
      const path = `vars.${name}`;
      if (!VARIABLE_NAME.test(name)) {
        throw settingsError(
          ctx.file,
          `invalid variable name '${name}' (letter, then letters, digits, _)`,
          path,
        );
      }
      if (!isJsonObject(def)) throw settingsError(ctx.file, `variable '${name}' must be a map`, path);
      const unknown = Object.keys(def).filter((field) => !VAR_FIELDS.has(field));
      if (unknown.length > 0) {
        throw settingsError(ctx.file, `unknown field(s) in variable '${name}': ${unknown.join(', ')}`, path);
      }
      const type = def['type'];
      if (!isOneOf(VAR_TYPES, type)) {
        throw settingsError(ctx.file, `variable '${name}' needs type string, int, float or any`, path);
      }
      vars.set(name, convert(name, type, await obtain(name, def, ctx), ctx.file));
    }
  }
  for (const [name, value] of builtinVars(ctx.file)) {
    if (vars.has(name))
      ctx.warnings.push(
        `${ctx.file}: variable '${name}' is built in; the file's own definition is overwritten`,
      );
    vars.set(name, value);
  }
  return vars;
}
