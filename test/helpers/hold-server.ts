/** The parent's side of hold-server-child.ts: starts it, asks it over IPC, always stops it. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildReply } from './hold-server-child.js';
import { killWithTests } from './processes.js';
import { withDeadline } from './wait.js';

export class HoldServer {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: ChildReply) => void>();

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.on('message', (r: ChildReply) => {
      this.waiting.get(r.id)?.(r);
      this.waiting.delete(r.id);
    });
  }

  /** `budgetMiB`: the buffer budget its connections share (0: the process's own). */
  static async start(budgetMiB = 0): Promise<HoldServer> {
    const child = fork(
      fileURLToPath(new URL('./hold-server-child.ts', import.meta.url)),
      [String(budgetMiB)],
      {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    killWithTests(child);
    const ready = new Promise<ChildReply>((resolve, reject) => {
      child.once('message', (r: ChildReply) => resolve(r));
      child.once('exit', (code) => reject(new Error(`hold server exited with ${code}`)));
    });
    const { port } = await withDeadline(ready, { timeoutMs: 20_000, what: 'the hold server to listen' });
    return new HoldServer(child, port!);
  }

  ask(cmd: 'memory' | 'budget' | 'read' | 'count'): Promise<ChildReply> {
    const id = this.nextId++;
    const reply = new Promise<ChildReply>((resolve) => this.waiting.set(id, resolve));
    this.child.send({ id, cmd });
    return withDeadline(reply, { timeoutMs: 10_000, what: `the hold server's answer to ${cmd}` });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await withDeadline(exited, { timeoutMs: 5000, what: 'the hold server to exit' });
  }
}
