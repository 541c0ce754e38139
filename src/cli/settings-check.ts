/** `<program> settings check`: the settings report of src/settings-check, printed; exit 1 on errors. */
import { relative } from 'node:path';
import type { Command } from 'commander';
import { SETTINGS_ENV } from '../settings/index.js';
import { unknownCommandHandler } from './common.js';
import { checkSettings, exitCodeOf, formatReport, type ProgramKind } from '../settings-check/index.js';

export function registerSettingsCheck(program: Command, kind: ProgramKind): void {
  const settings = program.command('settings').description('settings commands');
  settings
    .command('check')
    .description(
      `load the settings from ${SETTINGS_ENV[kind]} as 'run' does and check certificates, listen addresses ` +
        'and backends; exit 1 on errors',
    )
    .option('--offline', 'do not connect to backends')
    .action(async (opts: { offline?: boolean }) => {
      const findings = await checkSettings(kind, process.env[SETTINGS_ENV[kind]], {
        offline: opts.offline === true,
      });
      const cwd = process.cwd();
      process.stdout.write(formatReport(findings, (file) => relative(cwd, file) || file));
      process.exitCode = exitCodeOf(findings);
    });
  unknownCommandHandler(settings);
}
