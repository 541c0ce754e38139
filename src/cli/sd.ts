#!/usr/bin/env node
/** `sd`: the service directory server (settings from SD_SETTINGS). */
import { logger } from '../core/log.js';
import { SdServer } from '../sd/server.js';
import { loadSdSettings } from '../settings/index.js';
import { CliError, createProgram, runProgram, unknownCommandHandler, waitForSignals } from './common.js';
import { errorMessage } from '../core/errors.js';
import { registerSettingsCheck } from './settings-check.js';

const log = logger('sd');

const program = createProgram('sd', 'Service Directory (settings from SD_SETTINGS)', 'SD_');
program
  .command('run')
  .description('run the service directory until SIGINT/SIGTERM')
  .action(async () => {
    log.info('Starting the service directory...');
    const settings = await loadSdSettings();
    let server: SdServer;
    try {
      server = await SdServer.start(settings);
    } catch (err) {
      throw new CliError(`cannot start the service directory: ${errorMessage(err)}`);
    }
    await waitForSignals(() => server.stop(), 'Stopping directory');
  });
registerSettingsCheck(program, 'sd');
unknownCommandHandler(program);
await runProgram(program);
