/**
 * Receive credit on consumption, client side (issue 10 finding 5): a caller that does not read a server
 * stream stalls the server's sender at the stream window; reading resumes it; and a caller's unread data
 * beyond the buffer budget ends that call with RESOURCE_EXHAUSTED while the session keeps working.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { GrpcServer } from '../../src/grpc/server.js';
import { GrpcSession } from '../../src/grpc/client.js';
import type { GrpcError } from '../../src/grpc/status.js';
import { BufferBudget } from '../../src/grpc/h2/buffer-budget.js';
import { STREAM_HIGH_WATER, STREAM_WINDOW } from '../../src/grpc/h2/limits.js';
import { Deadline } from '../../src/core/deadline.js';
import { ls1Server, tlsConnect } from '../helpers/grpc-local.js';
import { waitFor, withDeadline } from '../helpers/wait.js';

/** What '/EPS/Flood' sends: 160 messages of 64 KiB (10 MiB), far more than one stream window. */
const MESSAGE = Buffer.alloc(64 * 1024 - 5, 0x33);
const MESSAGES = 160;

const flood = { sent: 0, done: false };
let server: GrpcServer;
let port: number;

before(async () => {
  server = ls1Server({
    handlers: {
      unary: { '/EPS/Call': async (payload) => Buffer.concat([Buffer.from('re:'), payload]) },
      bidi: {
        '/EPS/Flood': (stream) => {
          flood.sent = 0;
          flood.done = false;
          void (async () => {
            for (let i = 0; i < MESSAGES && !stream.closed; i++) {
              await stream.send(MESSAGE);
              flood.sent++;
            }
            flood.done = true;
            stream.end(0);
          })().catch(() => undefined);
        },
      },
    },
  });
  port = (await server.listen('127.0.0.1:0')).port;
});

after(async () => {
  await server.close();
});

async function session(budget: BufferBudget): Promise<GrpcSession> {
  return new GrpcSession('ls-1', await tlsConnect(port), { sharedBudget: budget });
}

test("a caller that does not read a server stream stalls the server's sender at the window", async () => {
  const budget = new BufferBudget(64 * 2 ** 20, 'this process');
  const s = await session(budget);
  try {
    const call = s.bidi('/EPS/Flood');
    // The whole window arrives and stays unread...
    await waitFor(() => budget.used === STREAM_WINDOW, {
      timeoutMs: 10_000,
      what: 'a full window to arrive',
    });
    // ...and after a round trip on the same connection nothing more has come: no credit was granted.
    assert.equal((await s.unary('/EPS/Call', Buffer.from('x'), Deadline.after(5000))).toString(), 're:x');
    assert.equal(budget.used, STREAM_WINDOW, 'no more than the window is buffered');
    const framed = MESSAGE.length + 5;
    const maxQueued = Math.ceil((STREAM_WINDOW + STREAM_HIGH_WATER) / framed) + 1;
    assert.ok(!flood.done && flood.sent <= maxQueued, `the server's sender stalled (${flood.sent} sent)`);

    // Reading resumes the flow: everything arrives, and the call ends cleanly.
    let received = 0;
    const ended = new Promise<GrpcError | undefined>((resolve) => call.onEnd(resolve));
    call.onMessage(() => received++);
    assert.equal(await withDeadline(ended, { timeoutMs: 20_000, what: 'the call to end' }), undefined);
    assert.equal(received, MESSAGES);
    assert.equal(budget.used, 0, 'everything consumed');
  } finally {
    s.destroy();
  }
});

test('unread data beyond the budget ends that call with RESOURCE_EXHAUSTED; the session keeps working', async () => {
  const budget = new BufferBudget(2 ** 20, 'this process');
  const s = await session(budget);
  try {
    const call = s.bidi('/EPS/Flood');
    const ended = new Promise<GrpcError | undefined>((resolve) => call.onEnd(resolve));
    const err = await withDeadline(ended, { timeoutMs: 10_000, what: 'the call to end' });
    assert.equal(err?.code, 8);
    assert.match(err?.message ?? '', /unread message data in this process/);
    assert.ok(budget.peak <= budget.max);
    await waitFor(() => budget.used === 0, { timeoutMs: 5000, what: 'the budget to be given back' });
    assert.equal((await s.unary('/EPS/Call', Buffer.from('y'), Deadline.after(5000))).toString(), 're:y');
  } finally {
    s.destroy();
  }
});
