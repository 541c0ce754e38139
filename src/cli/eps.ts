#!/usr/bin/env node
/** `eps`: the endpoint server (`eps server run`) and the directory record tools (`eps sd ...`). */
import { createProgram, runProgram, unknownCommandHandler, waitForSignals } from './common.js';
import { loadEpsSettings } from '../settings/index.js';
import { EpsServer } from '../eps/server.js';
import { logger } from '../core/log.js';
import { registerSdCommands } from './eps-sd.js';
import { registerSettingsCheck } from './settings-check.js';
import { registerDemoCommand } from './demo-command.js';
import { registerOperatorCommands } from './operator.js';

const log = logger('eps');

const program = createProgram(
  'eps',
  'Endpoint Server: run all server commands (settings from EPS_SETTINGS)',
  'EPS',
);

const server = program.command('server').alias('s').description('endpoint server commands');
server
  .command('run')
  .description('run the endpoint server until SIGINT/SIGTERM')
  .action(async () => {
    const settings = await loadEpsSettings();
    log.info('Opening all channels...');
    const eps = new EpsServer(settings);
    await eps.start();
    await waitForSignals(() => eps.stop(), 'Stopping channels');
  });
unknownCommandHandler(server);

registerSettingsCheck(program, 'eps');
registerSdCommands(program);
registerOperatorCommands(program);
registerDemoCommand(program);
unknownCommandHandler(program);

await runProgram(program);
