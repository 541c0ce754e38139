#!/usr/bin/env node
/** `sd`: the service directory server (settings from SD_SETTINGS). */
import { CliError, createProgram, runProgram, unknownCommandHandler } from './common.js';

const program = createProgram('sd', 'Service Directory (settings from SD_SETTINGS)', 'SD_');
program
  .command('run')
  .description('run the service directory until SIGINT/SIGTERM')
  .action(async () => {
    throw new CliError('sd run: not yet available');
  });
unknownCommandHandler(program);
await runProgram(program);
