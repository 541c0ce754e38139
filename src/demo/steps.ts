/** One-shot demo steps (a child process run to completion, e.g. sd-setup). */
import { spawn } from 'node:child_process';

export interface DemoStep {
  ok: boolean;
  output: string;
}

export function runDemoStep(
  cwd: string,
  label: string,
  cmd: string,
  args: string[],
  echo: boolean,
): Promise<DemoStep> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (d: Buffer): void => {
      output += d.toString();
      if (echo)
        for (const line of d.toString().split('\n')) if (line) process.stderr.write(`[${label}] ${line}\n`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => resolve({ ok: code === 0, output }));
    child.on('error', (e) => resolve({ ok: false, output: output + e.message }));
  });
}
