/**
 * The parent's side of hold-server-child.ts: starts it, asks it over IPC, always stops it; and the warm-up
 * before its memory is measured.
 */
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildReply } from './hold-server-child.js';
import { killWithTests } from './processes.js';
import { waitFor, withDeadline } from './wait.js';
import { frame } from '../../src/grpc/framing.js';
import { Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { STREAM_WINDOW } from '../../src/grpc/h2/limits.js';
import { fakeClient } from './h2-fake-server.js';
import { grpcRequest, handshake } from './h2-grpc-server.js';
import { WindowSender } from './h2-window-sender.js';

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

/** 64 KiB messages (with their 5-byte prefix), 48 MiB in all: twelve times the stream window. */
export const HOLD_MESSAGE = frame(Buffer.alloc(64 * 1024 - 5, 0x5a));
export const HOLD_MESSAGES = 768;
export const HOLD_PUSH = Buffer.concat(Array.from({ length: HOLD_MESSAGES }, () => HOLD_MESSAGE));

/**
 * Sends HOLD_PUSH through a reading `/EPS/Hold` stream on a fresh connection, so that the server's
 * allocator and heap are at their working size before memory is measured. The connection is closed after.
 */
export async function warmUp(child: HoldServer): Promise<void> {
  const peer = await fakeClient(child.port);
  try {
    await handshake(peer);
    const { held } = await child.ask('budget');
    peer.send(FrameType.HEADERS, Flag.END_HEADERS, 1, grpcRequest('/EPS/Hold'));
    await waitFor(async () => (await child.ask('budget')).held === held! + 1, {
      timeoutMs: 5000,
      what: 'the handler',
    });
    const { received } = await child.ask('read');
    const sender = new WindowSender(peer, 1, STREAM_WINDOW);
    assert.equal((await sender.push(HOLD_PUSH)).sent, HOLD_PUSH.length);
    await waitFor(async () => (await child.ask('count')).received === received! + HOLD_MESSAGES, {
      timeoutMs: 20_000,
      what: 'the warm-up messages to be read',
    });
  } finally {
    peer.socket.destroy();
  }
}
