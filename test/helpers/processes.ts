/** Starting the project's programs as real child processes in tests, and always stopping them. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Running {
  child: ChildProcess;
  output(): string;
  /** Resolves when the output (stdout+stderr) matches, rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<Running>();
const others = new Set<ChildProcess>();

/** Makes sure a child started elsewhere (redis-server, ...) dies with the test process. */
export function killWithTests(child: ChildProcess): void {
  others.add(child);
  child.once('exit', () => others.delete(child));
}

// If the test process itself is stopped (Ctrl-C, a runner timeout), its servers must not outlive it.
const killAll = (): void => {
  for (const r of running) r.child.kill('SIGKILL');
  for (const c of others) c.kill('SIGKILL');
};
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** A launcher in bin/ by name, or any program by absolute path. */
function programPath(bin: string): string {
  return bin.startsWith('/') ? bin : `${REPO_ROOT}bin/${bin}`;
}

export function startProgram(bin: string, args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(programPath(bin), args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: REPO_ROOT,
  });
  let out = '';
  const waiters: (() => void)[] = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of [...waiters]) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = once(child, 'exit');
  const r: Running = {
    child,
    output: () => out,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(out)) {
            cleanup();
            resolve();
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timeout waiting for ${pattern} from ${bin}; output:\n${out}`));
        }, timeoutMs);
        const onExit = (): void => {
          cleanup();
          reject(new Error(`${bin} exited (code ${child.exitCode}) before ${pattern}; output:\n${out}`));
        };
        const cleanup = (): void => {
          clearTimeout(timer);
          const i = waiters.indexOf(check);
          if (i >= 0) waiters.splice(i, 1);
          child.off('exit', onExit);
        };
        waiters.push(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      running.delete(r);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      return child.exitCode;
    },
  };
  running.add(r);
  return r;
}

/** Runs a program to completion and returns its exit code and output. */
export async function runProgram(
  bin: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(programPath(bin), args, { env: { ...process.env, ...env }, cwd: REPO_ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Programs run at once by `runPrograms`: enough to overlap their start-up, few enough for 2 cores. */
export const PROGRAMS_AT_ONCE = 3;

/**
 * Runs several programs to completion, at most PROGRAMS_AT_ONCE at a time (each is a Node start-up of
 * about a second on a busy machine; one after the other they added up); results in the order given.
 */
export async function runPrograms(
  runs: { bin: string; args: string[]; env?: Record<string, string> }[],
): Promise<{ code: number | null; stdout: string; stderr: string }[]> {
  const results: { code: number | null; stdout: string; stderr: string }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < runs.length) {
      const i = next++;
      const { bin, args, env } = runs[i]!;
      results[i] = await runProgram(bin, args, env);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PROGRAMS_AT_ONCE, runs.length) }, worker));
  return results;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((r) => r.stop()));
}

/**
 * Ports below the OS's ephemeral range: the OS never hands these out for `listen(0)` or for the local end of
 * an outgoing connection, so a port chosen here cannot be taken by another test's socket between now and
 * the moment the program we start binds it (that race gave rare EADDRINUSE failures).
 */
function portRange(): [number, number] {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (low > 12_000) return [10_000, low];
  } catch {
    // not Linux: fall back to the OS's choice below
  }
  return [0, 0];
}

const handedOut = new Set<number>();

/** A port that is free right now (for settings files that must name a port); never the same one twice. */
export async function freePort(): Promise<number> {
  const [low, high] = portRange();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = high > low ? low + Math.floor(Math.random() * (high - low)) : 0;
    if (port !== 0 && handedOut.has(port)) continue;
    const server = net.createServer();
    const bound = await new Promise<number | undefined>((resolve) => {
      server.once('error', () => resolve(undefined));
      server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
    await new Promise((r) => server.close(r));
    if (bound !== undefined && !handedOut.has(bound)) {
      handedOut.add(bound);
      return bound;
    }
  }
  throw new Error('no free port found');
}
