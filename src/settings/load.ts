/**
 * Loading a settings tree from a colon-separated list of locations (docs/settings.md#loading): every file is
 * parsed, has its `vars` resolved and substituted, its `$include`/`$ref` directives expanded, and is
 * then merged over the files before it. The result keeps, for each dotted key path, the file that last
 * wrote it, so validation errors can point at the right file.
 */
import { readFile } from 'node:fs/promises';
import type { JsonObject, JsonValue } from '../core/json.js';
import { isJsonObject } from '../core/json.js';
import { settingsError } from './errors.js';
import { expandIncludes, expandRefs, INCLUDE_KEY, REF_KEY } from './include.js';
import { listLocationFiles, splitLocations } from './locations.js';
import { mergeSettings } from './merge.js';
import { collectOrigins, stampOrigins } from './origins.js';
import { parseSettingsText } from './parse.js';
import { terminalPrompt, type PromptFunction } from './prompt.js';
import { substituteTree } from './substitute.js';
import { resolveVars } from './vars.js';

/** Top-level key holding a file's variable definitions. */
export const VARS_KEY = 'vars';
/** Deepest chain of nested `$include`s accepted. */
export const MAX_INCLUDE_DEPTH = 32;

export interface LoadOptions {
  /** Environment for `source: env` variables (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Base for relative locations (default `process.cwd()`). */
  cwd?: string;
  /** How `source: prompt` variables are asked (default: the terminal; fails without one). */
  prompt?: PromptFunction;
}

export interface LoadedSettings {
  /** The merged settings, `vars` sections removed. */
  readonly tree: JsonObject;
  /** Dotted key path (list indexes as numbers) → absolute path of the file that last wrote it. */
  readonly origins: ReadonlyMap<string, string>;
  /** Absolute locations, in the order given. */
  readonly locations: readonly string[];
  /** Every file read (top-level and included), in load order. */
  readonly files: readonly string[];
  /** Non-fatal notices met while loading. */
  readonly warnings: readonly string[];
}

interface Pipeline {
  readonly env: NodeJS.ProcessEnv;
  readonly prompt: PromptFunction;
  readonly files: string[];
  readonly warnings: string[];
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why = code === 'ENOENT' ? 'no such file' : error instanceof Error ? error.message : String(error);
    throw settingsError(file, `cannot read settings file: ${why}`);
  }
}

/**
 * Runs the per-file pipeline (docs/settings.md#loading). `chain` holds the files including this one, for
 * cycle checks.
 */
async function processFile(file: string, pipeline: Pipeline, chain: readonly string[]): Promise<JsonValue> {
  pipeline.files.push(file);
  let value = parseSettingsText(file, await readText(file));
  const topLevel = chain.length === 0;
  if (topLevel && value === null) value = {}; // an empty file contributes nothing
  if (topLevel && !isJsonObject(value))
    throw settingsError(file, 'the top level of a settings file must be a map');

  let section: JsonValue | undefined;
  if (isJsonObject(value) && Object.hasOwn(value, VARS_KEY)) {
    section = value[VARS_KEY];
    const { [VARS_KEY]: _removed, ...rest } = value;
    value = rest;
  }
  const vars = await resolveVars(section, {
    file,
    env: pipeline.env,
    prompt: pipeline.prompt,
    warnings: pipeline.warnings,
  });
  value = substituteTree(value, { file, vars, skipKeys: new Set([INCLUDE_KEY, REF_KEY]) });
  stampOrigins(value, file);

  value = await expandIncludes(value, {
    file,
    load: (target) => {
      const nextChain = [...chain, file];
      if (nextChain.includes(target))
        throw settingsError(file, `${INCLUDE_KEY} cycle: '${target}' includes itself`);
      if (nextChain.length >= MAX_INCLUDE_DEPTH) {
        throw settingsError(file, `${INCLUDE_KEY} nesting deeper than ${MAX_INCLUDE_DEPTH} files`);
      }
      return processFile(target, pipeline, nextChain);
    },
  });
  return expandRefs(value, file);
}

/**
 * Loads and merges the settings named by `locations` (the value of EPS_SETTINGS, SD_SETTINGS or
 * PROXY_SETTINGS). No locations yields an empty tree. Throws SettingsError naming the file at fault.
 */
export async function loadSettingsTree(locations: string, opts: LoadOptions = {}): Promise<LoadedSettings> {
  const pipeline: Pipeline = {
    env: opts.env ?? process.env,
    prompt: opts.prompt ?? terminalPrompt,
    files: [],
    warnings: [],
  };
  const absolute = splitLocations(locations, opts.cwd ?? process.cwd());
  let tree: JsonValue = {};
  for (const location of absolute) {
    for (const file of await listLocationFiles(location)) {
      tree = mergeSettings(tree, await processFile(file, pipeline, []));
    }
  }
  // Every file's top level is a map and merging maps yields a map.
  const merged = tree as JsonObject;
  return {
    tree: merged,
    origins: collectOrigins(merged),
    locations: absolute,
    files: pipeline.files,
    warnings: pipeline.warnings,
  };
}
