#!/usr/bin/env node
/** `proxy`: the TLS-passthrough proxy, public or private (settings from PROXY_SETTINGS). */
import { CliError, createProgram, runProgram, unknownCommandHandler } from './common.js';

const program = createProgram('proxy', 'Proxy Server (settings from PROXY_SETTINGS)', 'PRO');
const run = program.command('run').description('run a proxy until SIGINT/SIGTERM');
for (const kind of ['public', 'private']) {
  run
    .command(kind)
    .description(`run the ${kind} proxy`)
    .action(async () => {
      throw new CliError(`proxy run ${kind}: not yet available`);
    });
}
unknownCommandHandler(run);
unknownCommandHandler(program);
await runProgram(program);
