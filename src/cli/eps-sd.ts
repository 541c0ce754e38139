/** `eps sd ...`: service directory record tools (implemented with the service directory). */
import type { Command } from 'commander';
import { unknownCommandHandler } from './common.js';

export function registerSdCommands(program: Command): void {
  const sd = program.command('sd').description('service directory record tools');
  unknownCommandHandler(sd);
}
