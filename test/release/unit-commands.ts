/**
 * What systemd would run for an instance of a unit in deploy/systemd/, read from the unit file itself:
 * ExecStart's command line, the Environment= variables, WorkingDirectory= and the stop settings, with `%i`
 * replaced by the instance name. No systemd runs here (not PID 1), so the release test runs exactly these
 * command lines itself, against the installed package, with the unit's environment only.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../helpers/processes.js';
import { waitFor, withDeadline } from '../helpers/wait.js';

/** systemd's default PATH for system services (systemd.exec(5), "Environment variables"). */
export const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface UnitCommand {
  unit: string;
  argv: string[];
  environment: Record<string, string>;
  workingDirectory: string;
  killSignal: string;
  timeoutStopMs: number;
}

function values(text: string, key: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1).trim());
}

function one(text: string, key: string, unit: string): string {
  const found = values(text, key);
  if (found.length !== 1) throw new Error(`${unit}: expected one ${key}=, found ${found.length}`);
  return found[0]!;
}

/** The command systemd runs for UNIT@INSTANCE (e.g. `eps@.service`, `hd-1`). */
export function unitCommand(unit: string, instance: string): UnitCommand {
  const text = readFileSync(join(REPO_ROOT, 'deploy/systemd', unit), 'utf8').replaceAll('%i', instance);
  const execStart = one(text, 'ExecStart', unit);
  // Our units quote nothing; a quoted or prefixed (-, @, +, !) command would need systemd's own parser.
  if (/["'\\]|^[-@+!:]/.test(execStart)) throw new Error(`${unit}: ExecStart needs systemd's quoting rules`);
  const environment: Record<string, string> = {};
  for (const line of values(text, 'Environment')) {
    for (const assignment of line.split(/\s+/)) {
      const eq = assignment.indexOf('=');
      if (eq <= 0) throw new Error(`${unit}: cannot read Environment=${line}`);
      environment[assignment.slice(0, eq)] = assignment.slice(eq + 1);
    }
  }
  return {
    unit,
    argv: execStart.split(/\s+/),
    environment,
    workingDirectory: one(text, 'WorkingDirectory', unit),
    killSignal: one(text, 'KillSignal', unit),
    timeoutStopMs: Number(one(text, 'TimeoutStopSec', unit)) * 1000,
  };
}

/** Where the test puts what the units take from npm's global prefix, /etc/eps and /var/lib/eps. */
export interface UnitPlaces {
  /** Replaces `/usr/local/bin/` (npm's global prefix on Debian and with Node.js's own builds). */
  binDir: string;
  /** Replaces `/etc/eps/` (the settings folder of each instance). */
  settingsRoot: string;
  /** Replaces `/var/lib/eps/` (the StateDirectory, the unit's working directory). */
  stateRoot: string;
}

export interface UnitRun {
  /** The log lines (stdout and stderr), each parsed as JSON (`--format json`). */
  lines: { msg?: string; level?: string }[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stopMs: number;
}

function place(value: string, p: UnitPlaces): string {
  return value
    .replace(/^\/usr\/local\/bin\//, `${p.binDir}/`)
    .replace(/^\/etc\/eps\//, `${p.settingsRoot}/`)
    .replace(/^\/var\/lib\/eps\//, `${p.stateRoot}/`);
}

/**
 * Starts the unit's command as systemd would (its environment only, systemd's PATH, its working
 * directory), waits for the program to say it runs, sends the unit's KillSignal to the main process
 * (KillMode=mixed) and waits for the exit within TimeoutStopSec.
 */
export async function runUnitCommand(command: UnitCommand, places: UnitPlaces): Promise<UnitRun> {
  const cwd = place(command.workingDirectory, places);
  mkdirSync(cwd, { recursive: true, mode: 0o700 });
  const env: Record<string, string> = { PATH: `${SYSTEMD_PATH}:${dirname(process.execPath)}` };
  for (const [key, value] of Object.entries(command.environment)) env[key] = place(value, places);
  const [bin, ...args] = command.argv;
  const child = spawn(place(bin!, places), args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  try {
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`${command.unit} exited at start:\n${out}`);
        return out.includes('Waiting for CTRL-C');
      },
      { timeoutMs: 90_000, what: `${command.unit} to start`, intervalMs: 100 },
    );
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\n${out}`, { cause: e });
  }
  const stopping = performance.now();
  child.kill(command.killSignal as NodeJS.Signals);
  const [code, signal] = await withDeadline(exited, {
    timeoutMs: command.timeoutStopMs,
    what: `${command.unit} to stop on ${command.killSignal}`,
  }).catch((e: Error) => {
    child.kill('SIGKILL');
    throw e;
  });
  const lines = out
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as { msg?: string; level?: string };
      } catch {
        throw new Error(`${command.unit}: a log line that is not JSON: ${line}`);
      }
    });
  return { lines, code, signal, stopMs: performance.now() - stopping };
}
