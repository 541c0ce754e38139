/**
 * Entry points of the settings system: load the locations named by EPS_SETTINGS, SD_SETTINGS or
 * PROXY_SETTINGS, merge them, and validate them into typed settings with defaults applied.
 */
import type { z } from 'zod';
import { SettingsError, formatProblem } from './errors.js';
import { epsSettingsSchema, type EpsSettings } from './eps-schema.js';
import { loadSettingsTree, type LoadedSettings, type LoadOptions } from './load.js';
import { splitLocations } from './locations.js';
import { proxySettingsSchema, type ProxySettings } from './proxy-schema.js';
import { sdSettingsSchema, type SdSettings } from './sd-schema.js';
import { validateSettings } from './validate.js';

/** Environment variables naming the settings locations of each program. */
export const SETTINGS_ENV = {
  eps: 'EPS_SETTINGS',
  sd: 'SD_SETTINGS',
  proxy: 'PROXY_SETTINGS',
} as const;

export interface Validated<T> {
  readonly settings: T;
  /** The merged tree, origins, files read and warnings (for logging or a "show config" command). */
  readonly loaded: LoadedSettings;
}

/**
 * Loads the locations in `value` (the content of `envName`) and validates them against `schema`.
 * Throws SettingsError when `value` names no location, when loading fails or when validation fails.
 */
export async function loadSettings<S extends z.ZodType>(
  schema: S,
  envName: string,
  value: string | undefined,
  opts: LoadOptions = {},
): Promise<Validated<z.output<S>>> {
  if (splitLocations(value, opts.cwd).length === 0) {
    throw new SettingsError({
      message: `${envName} is not set: set it to a colon-separated list of settings directories or files`,
    });
  }
  const loaded = await loadSettingsTree(value as string, opts);
  return { settings: validateSettings(schema, loaded), loaded };
}

export async function loadEpsSettings(
  value: string | undefined = process.env[SETTINGS_ENV.eps],
  opts: LoadOptions = {},
): Promise<EpsSettings> {
  return (await loadSettings(epsSettingsSchema, SETTINGS_ENV.eps, value, opts)).settings;
}

export async function loadSdSettings(
  value: string | undefined = process.env[SETTINGS_ENV.sd],
  opts: LoadOptions = {},
): Promise<SdSettings> {
  return (await loadSettings(sdSettingsSchema, SETTINGS_ENV.sd, value, opts)).settings;
}

export async function loadProxySettings(
  value: string | undefined = process.env[SETTINGS_ENV.proxy],
  opts: LoadOptions = {},
): Promise<ProxySettings> {
  return (await loadSettings(proxySettingsSchema, SETTINGS_ENV.proxy, value, opts)).settings;
}

/** A user-facing text for any error thrown while loading settings: one line per problem. */
export function describeSettingsError(error: unknown): string {
  if (error instanceof SettingsError) return error.problems.map(formatProblem).join('\n');
  const message = error instanceof Error ? error.message : String(error);
  return formatProblem({ message });
}

export { SettingsError, formatProblem, type SettingsProblem } from './errors.js';
export { loadSettingsTree, type LoadedSettings, type LoadOptions } from './load.js';
export { splitLocations } from './locations.js';
export { originOf } from './origins.js';
export type { PromptFunction } from './prompt.js';
export { validateSettings } from './validate.js';
export * from './tls-schema.js';
export * from './datastore-schema.js';
export * from './eps-schema.js';
export * from './sd-schema.js';
export * from './proxy-schema.js';
