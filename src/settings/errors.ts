/**
 * The one error type of the settings system. A SettingsError carries a list of problems, each naming
 * (when known) the file and the dotted key path involved; its message has one line per problem.
 */
import { CodedError } from '../core/errors.js';
import { keyPathLabel } from './origins.js';

/** One thing wrong with the settings. */
export interface SettingsProblem {
  /** Absolute path of the file (or location) the problem was found in, when known. */
  readonly file?: string;
  /**
   * Dotted key path inside the settings tree (e.g. `channels.2.settings.tls`; a key with a dot inside in
   * brackets and quotes: `async.method_ttl["ls-1.add"]`), when relevant.
   */
  readonly path?: string;
  /** The same key path as its keys (list indexes as numbers), when known. */
  readonly keys?: readonly (string | number)[];
  /** What is wrong, without the file/path prefix. */
  readonly message: string;
}

/** Renders one problem as a single line: `settings error in <file> at <path>: <message>`. */
export function formatProblem(problem: SettingsProblem): string {
  let head = 'settings error';
  if (problem.file !== undefined) head += ` in ${problem.file}`;
  if (problem.path !== undefined && problem.path !== '') head += ` at ${problem.path}`;
  return `${head}: ${problem.message}`;
}

/** `code` is stable for callers that map errors to exit statuses or logs. */
export class SettingsError extends CodedError<'SETTINGS_INVALID'> {
  readonly problems: readonly SettingsProblem[];

  constructor(problems: SettingsProblem | readonly SettingsProblem[]) {
    const list = Array.isArray(problems)
      ? (problems as readonly SettingsProblem[])
      : [problems as SettingsProblem];
    super('SETTINGS_INVALID', list.map(formatProblem).join('\n'));
    this.name = 'SettingsError';
    this.problems = list;
  }
}

/** Shorthand for a single-problem error; `path` as text or as its keys (a key may contain dots). */
export function settingsError(
  file: string | undefined,
  message: string,
  path?: string | readonly (string | number)[],
): SettingsError {
  const where =
    path === undefined ? {} : typeof path === 'string' ? { path } : { path: keyPathLabel(path), keys: path };
  const problem: SettingsProblem = { ...(file !== undefined ? { file } : {}), ...where, message };
  return new SettingsError(problem);
}
