/**
 * Validating a loaded settings tree against a schema and turning schema issues into SettingsProblems
 * that name the file which set (or should have set) the key and the dotted key path, one per problem.
 */
import type { z } from 'zod';
import type { JsonObject, JsonValue } from '../core/json.js';
import { isJsonObject } from '../core/json.js';
import { SettingsError, type SettingsProblem } from './errors.js';
import type { LoadedSettings } from './load.js';
import { keyPathLabel, originOf } from './origins.js';

/** Top-level keys every schema ignores: a file's variable section (`_vars` is the original's name). */
export const IGNORED_TOP_LEVEL_KEYS: readonly string[] = ['vars', '_vars'];

type Segment = string | number;

/** Zod's own wording for size limits; schemas that set their own message keep it. */
const ZOD_LIMIT_MESSAGE = /^Too (small|big)/;

function valueAt(root: JsonValue, path: readonly Segment[]): JsonValue | undefined {
  let current: JsonValue | undefined = root;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === 'number') current = current[segment];
    else if (isJsonObject(current) && Object.hasOwn(current, String(segment)))
      current = current[String(segment)];
    else return undefined;
  }
  return current;
}

/**
 * What was found instead. String contents are shown only when `showText` is set (enumerations):
 * a string in the wrong place may hold a substituted secret.
 */
function describe(value: JsonValue | undefined, showText = false): string {
  if (value === undefined || value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (isJsonObject(value)) return 'a map';
  if (typeof value === 'string') return showText ? `the string ${JSON.stringify(value)}` : 'a string';
  return `${typeof value} ${String(value)}`;
}

const EXPECTED_NAMES: Record<string, string> = {
  object: 'a map',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean (true/false)',
};

interface Located {
  path: Segment[];
  message: string;
  /** Path used to find the responsible file (defaults to `path`). */
  blame?: Segment[];
}

function limitText(issue: z.core.$ZodIssue, bound: 'at least' | 'at most'): string {
  const limit = 'minimum' in issue ? issue.minimum : 'maximum' in issue ? issue.maximum : undefined;
  const exclusive = 'inclusive' in issue && issue.inclusive === false;
  const origin = 'origin' in issue ? issue.origin : undefined;
  if (origin === 'array') {
    return Number(limit) === 1 && bound === 'at least'
      ? 'must not be empty'
      : `must have ${bound} ${String(limit)} entries`;
  }
  if (origin === 'string') return `must be ${bound} ${String(limit)} characters long`;
  const word = exclusive ? (bound === 'at least' ? 'greater than' : 'less than') : bound;
  return `must be ${word} ${String(limit)}`;
}

function locate(issue: z.core.$ZodIssue, input: JsonValue): Located[] {
  const path = issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment)));
  const raw = valueAt(input, path);
  switch (issue.code) {
    case 'invalid_type': {
      const expected = EXPECTED_NAMES[issue.expected] ?? issue.expected;
      const key = path[path.length - 1];
      if ((raw === undefined || raw === null) && typeof key === 'string') {
        return [{ path: path.slice(0, -1), message: `${String(key)} is required`, blame: path }];
      }
      return [{ path, message: `expected ${expected}, got ${describe(raw)}` }];
    }
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path, message: `unknown key '${key}'`, blame: [...path, key] }));
    case 'invalid_value':
      return [
        {
          path,
          message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')} (got ${describe(raw, true)})`,
        },
      ];
    case 'too_small':
    case 'too_big':
      if (!ZOD_LIMIT_MESSAGE.test(issue.message)) return [{ path, message: issue.message }];
      return [{ path, message: limitText(issue, issue.code === 'too_small' ? 'at least' : 'at most') }];
    case 'invalid_format':
    case 'not_multiple_of':
    case 'invalid_key':
    case 'invalid_element':
    case 'invalid_union':
    case 'custom':
      return [{ path, message: issue.message }];
  }
}

/** Converts schema issues to problems, naming for each the file that last wrote the key path. */
export function issuesToProblems(
  issues: readonly z.core.$ZodIssue[],
  input: JsonValue,
  loaded: LoadedSettings,
): SettingsProblem[] {
  const fallback = loaded.files.length === 1 ? loaded.files[0] : loaded.locations.join(':');
  return issues.flatMap((issue) =>
    locate(issue, input).map(({ path, message, blame }) => {
      const file = originOf(loaded.origins, blame ?? path) ?? fallback;
      return {
        ...(file !== undefined && file !== '' ? { file } : {}),
        ...(path.length > 0 ? { path: keyPathLabel(path), keys: path } : {}),
        message,
      };
    }),
  );
}

/** The tree without the top-level keys schemas ignore. */
export function schemaInput(tree: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(tree)) {
    if (!IGNORED_TOP_LEVEL_KEYS.includes(key))
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Validates `loaded` against `schema`; returns the typed settings with defaults or throws SettingsError. */
export function validateSettings<S extends z.ZodType>(schema: S, loaded: LoadedSettings): z.output<S> {
  const input = schemaInput(loaded.tree);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new SettingsError(issuesToProblems(result.error.issues, input, loaded));
}
