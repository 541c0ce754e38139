/**
 * Shared command-line behaviour of eps, sd and proxy: global flags (`--level`, `--format`, `--profile`)
 * given before the command, `version`, exit codes (settings or usage errors are non-zero, unlike the
 * original), "No help topic" with exit 3 for unknown commands, and signal handling for servers.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { writeHeapSnapshot } from 'node:v8';
import { Command, CommanderError } from 'commander';
import { configureLogging, logger, parseLevel, type LogFormat } from '../core/log.js';
import { VERSION } from '../core/version.js';
import { CodedError, errorMessage } from '../core/errors.js';

const log = logger('cli');

export interface GlobalOptions {
  level: string;
  format?: string;
  profile?: string;
}

export class CliError extends CodedError<'ERR_CLI_FAILED'> {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super('ERR_CLI_FAILED', message);
  }
}

export function createProgram(name: string, description: string, service: string): Command {
  const program = new Command(name)
    .description(description)
    .option('--level <level>', 'log level: panic, fatal, error, warn, info, debug, trace', 'info')
    .option('--format <format>', "log format: 'text' (default), 'iris' or 'json'")
    .option('--profile <name>', 'write <name>-cpu.cpuprofile and <name>-mem.heapsnapshot')
    .version(VERSION, '-V, --version', 'print the version')
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride();
  program.hook('preAction', (_this, action) => {
    const opts = program.opts<GlobalOptions>();
    let level;
    try {
      level = parseLevel(opts.level);
    } catch (e) {
      throw new CliError(`error parsing flag: error parsing level: ${errorMessage(e)}`);
    }
    if (opts.format !== undefined && !['iris', 'text', 'json'].includes(opts.format)) {
      throw new CliError(`error setting log formatter: unknown log format: ${opts.format}`);
    }
    configureLogging({ level, format: (opts.format as LogFormat | undefined) ?? 'text', service });
    log.debug(`${service} version: ${VERSION}`, { command: action.name() });
    if (opts.profile) startProfile(opts.profile);
  });
  program
    .command('version')
    .description('print the version')
    .action(() => {
      process.stdout.write(VERSION + '\n');
    });
  return program;
}

/** Unknown commands (also below a command group) print the original's message and exit 3. */
export function unknownCommandHandler(cmd: Command): void {
  cmd.on('command:*', (operands: string[]) => {
    process.stderr.write(`No help topic for '${operands[0]}'\n`);
    process.exit(3);
  });
}

let profileName: string | undefined;
let profileSession: Session | undefined;

function startProfile(name: string): void {
  profileName = name;
  profileSession = new Session();
  profileSession.connect();
  profileSession.post('Profiler.enable', () => profileSession?.post('Profiler.start'));
}

async function stopProfile(): Promise<void> {
  const session = profileSession;
  if (!session || !profileName) return;
  const name = profileName;
  await new Promise<void>((resolve) => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(`${name}-cpu.cpuprofile`, JSON.stringify(result.profile));
      resolve();
    });
  });
  writeHeapSnapshot(`${name}-mem.heapsnapshot`);
  session.disconnect();
}

/** Runs the program; maps errors to messages and exit codes. */
export async function runProgram(program: Command, argv = process.argv): Promise<void> {
  try {
    await program.parseAsync(argv);
    await stopProfile();
    // A stopped server has nothing left to do; a lingering handle (a socket in its close grace) must not
    // keep it from exiting, nor turn a clean stop into the forced exit.
    if (stoppedBySignal) process.exit(0);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) {
        process.exit(0);
      }
      if (e.code === 'commander.help') process.exit(0);
      process.exit(e.code === 'commander.unknownCommand' ? 3 : 2);
    }
    const code = e instanceof CliError ? e.exitCode : 1;
    log.error(errorMessage(e));
    process.exit(code);
  }
}

/**
 * A graceful stop that takes longer than this ends the process with exit code 1 (every server's own
 * bounds — eps SHUTDOWN_DRAIN_MS, the gRPC and HTTP close graces — add up to less).
 */
export const FORCED_EXIT_MS = 10_000;
/** Set once a server stopped after a signal: runProgram then exits 0 even if a handle is still open. */
let stoppedBySignal = false;

/**
 * Keeps a server running until SIGINT/SIGTERM, then runs its graceful `stop` (listeners first, calls in
 * flight finish within the server's bound) and the process exits 0; a second signal forces exit.
 */
export function waitForSignals(stop: () => Promise<void>, label: string): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn(`second ${signal}, exiting immediately`);
        process.exit(1);
      }
      stopping = true;
      log.info(`${label}...`);
      const force = setTimeout(() => {
        log.error('shutdown took too long, exiting');
        process.exit(1);
      }, FORCED_EXIT_MS);
      force.unref();
      stop().then(
        () => {
          log.info('stopped');
          stoppedBySignal = true;
          resolve();
        },
        (e: Error) => {
          log.error('error during shutdown', { error: e.message });
          resolve();
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // Only now: whoever waits for this line (tests, the demo) may send a signal at once.
    log.info('Waiting for CTRL-C...');
  });
}
