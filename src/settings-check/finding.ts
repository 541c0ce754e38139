/**
 * The common result of every settings check: a Finding names its level, the settings file and dotted key
 * path it is about (when known) and what is wrong. Errors make `settings check` exit non-zero; warnings
 * and info lines are printed only.
 */
import type { JsonObject, JsonValue } from '../core/json.js';
import { isJsonObject } from '../core/json.js';

export type FindingLevel = 'error' | 'warning' | 'info';

export interface Finding {
  readonly level: FindingLevel;
  /** Absolute path of the settings file that wrote the key, when known. */
  readonly file?: string;
  /** Dotted key path in the settings tree, list indexes in brackets (`channels[0].settings.tls`). */
  readonly keyPath?: string;
  readonly message: string;
}

/** What every check sees: the merged settings tree and the file each dotted key came from. */
export interface CheckContext {
  readonly tree: JsonObject;
  readonly origins: ReadonlyMap<string, string>;
  /** Milliseconds since the epoch, for expiry checks (from the Clock). */
  readonly now: number;
}

/** Builds findings for one key: its file is the origin of the longest prefix that has one. */
export function findingAt(
  ctx: CheckContext,
  path: readonly (string | number)[],
  level: FindingLevel,
  message: string,
): Finding {
  let file: string | undefined;
  for (let length = path.length; length > 0 && file === undefined; length--) {
    file = ctx.origins.get(path.slice(0, length).map(String).join('.'));
  }
  return { level, ...(file !== undefined ? { file } : {}), keyPath: keyPathText(path), message };
}

/**
 * `['channels', 0, 'settings']` → `channels[0].settings`; a key that is not a plain name (a dot, a space:
 * `method_ttl: {"ls-1.add": 60}`) in brackets and quotes: `method_ttl["ls-1.add"]`.
 */
export function keyPathText(path: readonly (string | number)[]): string {
  return path
    .map((part, index) => {
      if (typeof part === 'number' || /^\d+$/.test(part)) return `[${part}]`;
      if (!/^[A-Za-z_$][\w$-]*$/.test(part)) return `[${JSON.stringify(part)}]`;
      return index === 0 ? part : `.${part}`;
    })
    .join('');
}

/** Every map in `tree` with its key path (depth-first, parents before children). */
export function mapsIn(tree: JsonValue, path: (string | number)[] = []): [JsonObject, (string | number)[]][] {
  const out: [JsonObject, (string | number)[]][] = [];
  if (Array.isArray(tree)) tree.forEach((child, i) => out.push(...mapsIn(child, [...path, i])));
  else if (isJsonObject(tree)) {
    out.push([tree, path]);
    for (const [key, child] of Object.entries(tree)) out.push(...mapsIn(child, [...path, key]));
  }
  return out;
}

const LABEL: Record<FindingLevel, string> = { error: 'ERROR', warning: 'WARNING', info: 'info' };

/** One line per finding, `LEVEL file: key.path: message`, then a summary line. */
export function formatReport(findings: readonly Finding[], relativeTo?: (file: string) => string): string {
  const lines = findings.map((f) => {
    const where = [f.file !== undefined ? (relativeTo?.(f.file) ?? f.file) : undefined, f.keyPath]
      .filter((part) => part !== undefined && part !== '')
      .join(': ');
    return `${LABEL[f.level]} ${where === '' ? '' : where + ': '}${f.message}`;
  });
  const count = (level: FindingLevel): number => findings.filter((f) => f.level === level).length;
  lines.push(`settings check: ${count('error')} error(s), ${count('warning')} warning(s)`);
  return lines.join('\n') + '\n';
}

export function exitCodeOf(findings: readonly Finding[]): number {
  return findings.some((f) => f.level === 'error') ? 1 : 0;
}
