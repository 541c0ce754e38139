/**
 * `eps demo [--once] [--verbose] [--all] [--dir DIR]`: runs the dev demo network (src/demo/demo.ts) as a
 * child process, so an installed package has the same demo as `npm run demo` in a checkout. Signals are
 * passed on; the exit status is the demo's.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CliError } from './common.js';

interface DemoOptions {
  once?: boolean;
  verbose?: boolean;
  all?: boolean;
  dir?: string;
}

const DEMO_SCRIPT = fileURLToPath(new URL('../demo/demo.js', import.meta.url));

async function runDemo(opts: DemoOptions): Promise<void> {
  const args = [DEMO_SCRIPT];
  if (opts.once) args.push('--once');
  if (opts.verbose) args.push('--verbose');
  if (opts.all) args.push('--all');
  if (opts.dir !== undefined) args.push('--dir', opts.dir);
  const child = spawn(process.execPath, args, { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  if (code !== 0) throw new CliError(`the demo ended with ${code ?? signal}`, code ?? 1);
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      "run the dev demo network (sd-1, two public proxies, hd-1, hd-2 and the proxies' eps) and ping hd-2",
    )
    .option('--once', 'stop after the calls (exit 0 only if every call succeeded)')
    .option('--verbose', "show the servers' logs")
    .option('--all', 'also run the getting-started network and the private-proxy demo')
    .option('--dir <dir>', 'run with DIR/settings/dev (copied from the package on first use)')
    .action(runDemo);
}
