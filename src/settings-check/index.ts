/**
 * `settings check` of eps, sd and proxy: loads the settings exactly as `run` does (the same loader and
 * schema), turns load or validation problems into findings, and on valid settings runs the checks:
 * certificates, the own fingerprint in the directory (eps), listen addresses and backend reachability.
 */
import type { z } from 'zod';
import { systemClock, type Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import {
  epsSettingsSchema,
  loadSettings,
  proxySettingsSchema,
  sdSettingsSchema,
  SETTINGS_ENV,
  SettingsError,
  type LoadOptions,
} from '../settings/index.js';
import { checkBackends } from './backends.js';
import { checkCertificates } from './certificates.js';
import { checkOwnFingerprints } from './directory.js';
import type { CheckContext, Finding } from './finding.js';
import { keyPathText } from './finding.js';
import { checkListenAddresses } from './listen.js';

export type ProgramKind = keyof typeof SETTINGS_ENV;

const SCHEMAS: Record<ProgramKind, z.ZodType> = {
  eps: epsSettingsSchema,
  sd: sdSettingsSchema,
  proxy: proxySettingsSchema,
};

export interface CheckOptions extends LoadOptions {
  clock?: Clock;
  /** Skip the connects to backends (listen addresses and files are still checked). */
  offline?: boolean;
}

function loadFindings(error: unknown): Finding[] {
  if (!(error instanceof SettingsError)) return [{ level: 'error', message: errorMessage(error) }];
  return error.problems.map((problem) => ({
    level: 'error',
    ...(problem.file !== undefined ? { file: problem.file } : {}),
    ...(problem.keys !== undefined && problem.keys.length > 0
      ? { keyPath: keyPathText(problem.keys) }
      : problem.path !== undefined && problem.path !== ''
        ? { keyPath: keyPathText(problem.path.split('.')) }
        : {}),
    message: problem.message,
  }));
}

/** Runs every check for `kind` on the settings named by `value` (the content of its environment variable). */
export async function checkSettings(
  kind: ProgramKind,
  value: string | undefined,
  options: CheckOptions = {},
): Promise<Finding[]> {
  let ctx: CheckContext;
  try {
    const { loaded } = await loadSettings(SCHEMAS[kind], SETTINGS_ENV[kind], value, options);
    ctx = { tree: loaded.tree, origins: loaded.origins, now: (options.clock ?? systemClock).now() };
  } catch (error) {
    return loadFindings(error);
  }
  const certificates = await checkCertificates(ctx);
  const findings = [...certificates.findings];
  if (kind === 'eps') findings.push(...(await checkOwnFingerprints(ctx, certificates.leaves)));
  findings.push(...(await checkListenAddresses(ctx)));
  if (options.offline !== true) findings.push(...(await checkBackends(ctx)));
  return findings;
}

export { exitCodeOf, formatReport, type Finding, type FindingLevel } from './finding.js';
