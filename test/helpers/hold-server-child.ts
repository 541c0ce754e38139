/**
 * A gRPC server in a child process for memory measurements that only the server's process may show:
 * `/EPS/Hold` is a streaming handler that does not read until told to, `/EPS/Call` echoes. It shares a
 * buffer budget of argv[2] MiB (default: the process's own) and answers the parent over IPC:
 * `memory` (after a full GC), `budget` (used, peak, max), `read` (held streams start reading), `count`.
 */
import vm from 'node:vm';
import v8 from 'node:v8';
import type { BidiServerStream } from '../../src/grpc/server.js';
import { BufferBudget, PROCESS_BUFFER_BUDGET } from '../../src/grpc/h2/buffer-budget.js';
import { ls1Server } from './grpc-local.js';

export interface ChildReply {
  id: number;
  port?: number;
  rss?: number;
  heapAndBuffers?: number;
  used?: number;
  peak?: number;
  max?: number;
  received?: number;
  held?: number;
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const budgetMiB = Number(process.argv[2] ?? 0);
const budget = budgetMiB > 0 ? new BufferBudget(budgetMiB * 2 ** 20, 'this process') : PROCESS_BUFFER_BUDGET;
const held: BidiServerStream[] = [];
let received = 0;

const server = ls1Server({
  keepalive: { minClientPingIntervalMs: 0 },
  sharedBudget: budget,
  handlers: {
    unary: { '/EPS/Call': async (payload) => Buffer.concat([Buffer.from('re:'), payload]) },
    bidi: { '/EPS/Hold': (stream) => void held.push(stream) },
  },
});

const send = (reply: ChildReply): void => void process.send!(reply);

process.on('message', (m: { id: number; cmd: string }) => {
  switch (m.cmd) {
    case 'memory': {
      gc();
      const u = process.memoryUsage();
      // `external` covers Buffers' memory outside the heap (`arrayBuffers` counts views of one twice).
      return send({ id: m.id, rss: u.rss, heapAndBuffers: u.heapUsed + u.external });
    }
    case 'budget':
      return send({ id: m.id, used: budget.used, peak: budget.peak, max: budget.max, held: held.length });
    case 'read':
      for (const s of held) s.onMessage(() => received++);
      return send({ id: m.id, received });
    case 'count':
      return send({ id: m.id, received });
  }
});
process.on('disconnect', () => process.exit(0));

const { port } = await server.listen('127.0.0.1:0');
send({ id: 0, port });
