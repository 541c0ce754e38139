/**
 * Runs fixture-server.ts as a real child process (tsx, --expose-gc) and measures its resident memory;
 * plus a well-behaved client that keeps calling it on a connection of its own while an attack runs.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { ServerKeepalive } from '../../src/grpc/keepalive.js';
import { Deadline } from '../../src/core/deadline.js';
import type { GrpcSession } from '../../src/grpc/client.js';
import { grpcSession } from '../helpers/grpc-local.js';
import { killWithTests, REPO_ROOT } from '../helpers/processes.js';
import { waitFor, withDeadline } from '../helpers/wait.js';

const FIXTURE = fileURLToPath(new URL('./fixture-server.ts', import.meta.url));
const MiB = 2 ** 20;

/** RSS of the child in bytes: the settled baseline, the peak sampled since, and now (settled). */
export interface RssReport {
  baseline: number;
  peak: number;
  now: number;
}

/** See fixture-server.ts ('accepted'): counts since the server started. */
export interface AcceptedConnections {
  admitted: number;
  refused: number;
  /** Admitted connections that have closed, and the shortest and longest time they were open. */
  closed: number;
  shortestMs: number;
  longestMs: number;
}

export interface AttackServer {
  port: number;
  /** Settles the child's memory and takes it as the baseline of the next measure(). */
  mark(): Promise<RssReport>;
  measure(): Promise<RssReport>;
  /** Connections from addresses other than 127.0.0.1: admitted to the handshake, or refused by its caps. */
  accepted(): Promise<AcceptedConnections>;
  /** TCP connections the server has open now. */
  connections(): Promise<number>;
  stop(): Promise<void>;
}

export async function startAttackServer(
  options: { keepalive?: Partial<ServerKeepalive> } = {},
): Promise<AttackServer> {
  const child: ChildProcess = fork(FIXTURE, [JSON.stringify(options)], {
    cwd: REPO_ROOT,
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' },
  });
  killWithTests(child);
  const exited = once(child, 'exit');
  const [ready] = (await withDeadline(
    Promise.race([
      once(child, 'message'),
      exited.then(() => Promise.reject(new Error('the fixture server exited before listening'))),
    ]),
    { timeoutMs: 30_000, what: 'the fixture server to listen' },
  )) as [{ listening: number }];
  let nextId = 1;
  const ask = <T>(op: 'mark' | 'measure' | 'connections' | 'accepted'): Promise<T> => {
    const id = nextId++;
    const answer = new Promise<T>((resolve, reject) => {
      const onMessage = (m: T & { id?: number }): void => {
        if (m.id !== id) return;
        child.off('message', onMessage);
        resolve(m);
      };
      child.on('message', onMessage);
      void exited.then(() => reject(new Error('the fixture server exited')));
    });
    child.send({ id, op });
    return withDeadline(answer, { timeoutMs: 15_000, what: `the fixture server's answer to ${op}` });
  };
  return {
    port: ready.listening,
    mark: () => ask<RssReport>('mark'),
    measure: () => ask<RssReport>('measure'),
    accepted: () => ask<AcceptedConnections>('accepted'),
    connections: async () => (await ask<{ connections: number }>('connections')).connections,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Figures of one attack, for the assertion messages and the test's diagnostics. */
export function describeRss(r: RssReport): { grownMiB: number; peakMiB: number; text: string } {
  const grownMiB = (r.now - r.baseline) / MiB;
  const peakMiB = (r.peak - r.baseline) / MiB;
  const text =
    `RSS ${(r.baseline / MiB).toFixed(1)} → ${(r.now / MiB).toFixed(1)} MiB settled ` +
    `(${grownMiB >= 0 ? '+' : ''}${grownMiB.toFixed(1)}), peak +${peakMiB.toFixed(1)} MiB`;
  return { grownMiB, peakMiB, text };
}

/** A client on its own connection that keeps making unary calls until stopped. */
export interface Bystander {
  /** Calls answered so far. */
  readonly answered: number;
  /** Stops calling; resolves with the calls answered and the errors seen. */
  stop(): Promise<{ answered: number; errors: string[] }>;
}

/** Each call must be answered within this time: the server is not allowed to stall under attack. */
const BYSTANDER_CALL_MS = 5000;

export async function bystander(port: number): Promise<Bystander> {
  const session: GrpcSession = await grpcSession(port);
  let answered = 0;
  const errors: string[] = [];
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      try {
        const reply = await session.unary(
          '/EPS/Call',
          Buffer.from(`b${i}`),
          Deadline.after(BYSTANDER_CALL_MS),
        );
        if (reply.toString() !== `re:b${i}`) errors.push(`wrong answer ${reply.toString()}`);
        else answered++;
      } catch (e) {
        errors.push(String(e));
        if (session.closed) return;
      }
    }
  })();
  // At least one answer before the attack starts: the connection is up.
  await waitFor(() => answered > 0 || errors.length > 0, {
    timeoutMs: 10_000,
    what: 'the first answer on the bystander connection',
  });
  return {
    get answered() {
      return answered;
    },
    async stop() {
      stopped = true;
      await withDeadline(loop, { timeoutMs: BYSTANDER_CALL_MS + 1000, what: 'the last bystander call' });
      session.destroy();
      return { answered, errors };
    },
  };
}
