/** Child processes of the demo network: the package's bin/ launchers run in the demo's folder, output prefixed, stopped together. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { DemoWorkspace } from './workspace.js';

export interface DemoProcess {
  label: string;
  child: ChildProcess;
  ready: Promise<void>;
}

export function startDemoProcess(
  workspace: DemoWorkspace,
  label: string,
  bin: string,
  args: string[],
  env: Record<string, string>,
  readyPattern: RegExp,
  echo: boolean,
  /** Generous: seven programs start at once, and a loaded machine (CI on 2 cores) makes each slow. */
  timeoutMs = 90_000,
): DemoProcess {
  const child = spawn(join(workspace.packageRoot, 'bin', bin), args, {
    cwd: workspace.workDir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let seen = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${label} did not become ready within ${timeoutMs} ms:\n${seen}`)),
      timeoutMs,
    );
    const onData = (d: Buffer): void => {
      const text = d.toString();
      if (echo) for (const line of text.split('\n')) if (line) process.stderr.write(`[${label}] ${line}\n`);
      if (seen.length < 100_000) seen += text;
      if (readyPattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with code ${code}:\n${seen}`));
    });
  });
  ready.catch(() => undefined);
  return { label, child, ready };
}

export async function stopDemoProcesses(procs: DemoProcess[]): Promise<void> {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
          const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
          p.child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          p.child.kill('SIGTERM');
        }),
    ),
  );
}
