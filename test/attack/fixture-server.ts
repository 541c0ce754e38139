/**
 * The server under attack, as a child process of its own (so that its memory is measured apart from the
 * attacker's): ls-1's gRPC server (own HTTP/2, mutual TLS, the pinned test directory) with a unary echo,
 * a unary method with a large answer and a streaming echo. Started by attack-server.ts with --expose-gc;
 * talks over the IPC channel:
 *   child → parent  { listening: port }
 *   parent → child  { id, op: 'mark' }     settle (gc), remember RSS as the baseline, reset the peak
 *   parent → child  { id, op: 'measure' }  settle (gc, teardown), answer { id, baseline, peak, now } in bytes
 *   parent → child  { id, op: 'connections' }  answer { id, connections }: TCP connections open now
 *   parent → child  { id, op: 'accepted' }  answer { id, admitted, refused, closed, shortestMs, longestMs }:
 *                   connections from addresses other than 127.0.0.1 admitted to the handshake or closed on
 *                   arrival by its caps, and how long the admitted ones that closed had been open
 * Options come as one JSON argument: keepalive overrides (handshakeTimeoutMs, maxIdleMs, ...).
 */
import type { Socket } from 'node:net';
import { ls1Server } from '../helpers/grpc-local.js';
import type { ServerKeepalive } from '../../src/grpc/keepalive.js';

/** What '/EPS/Big' answers: large enough that many of them show in RSS. */
export const BIG_ANSWER_BYTES = 1024 * 1024;
/** How often the peak RSS is sampled while an attack runs. */
const SAMPLE_MS = 20;

interface FixtureOptions {
  keepalive?: Partial<ServerKeepalive>;
}

interface Request {
  id: number;
  op: 'mark' | 'measure' | 'connections' | 'accepted';
}

const options = JSON.parse(process.argv[2] ?? '{}') as FixtureOptions;
const bigAnswer = Buffer.alloc(BIG_ANSWER_BYTES, 0x42);

const server = ls1Server({
  maxMessageBytes: 4 * 1024 * 1024,
  ...(options.keepalive ? { keepalive: options.keepalive } : {}),
  handlers: {
    unary: {
      '/EPS/Call': async (payload) => Buffer.concat([Buffer.from('re:'), payload]),
      '/EPS/Big': async () => bigAnswer,
    },
    bidi: {
      '/EPS/Echo': (stream) => {
        stream.onMessage((m) => void stream.send(m).catch(() => undefined));
        stream.onEnd(() => stream.end(0));
      },
    },
  },
});

/** RSS after two full collections (the second picks up what finalizers of the first released). */
function settledRss(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the fixture server needs --expose-gc');
  gc();
  gc();
  return process.memoryUsage.rss();
}

// The handshake guard's listener ran first (it was added in the constructor): a socket it refused is
// already destroyed here.
const accepted = { admitted: 0, refused: 0, closed: 0, shortestMs: Infinity, longestMs: 0 };
server.server.on('connection', (socket: Socket) => {
  if (socket.remoteAddress === '127.0.0.1') return;
  if (socket.destroyed) {
    accepted.refused++;
    return;
  }
  accepted.admitted++;
  const arrived = performance.now();
  socket.once('close', () => {
    const openMs = performance.now() - arrived;
    accepted.closed++;
    accepted.shortestMs = Math.min(accepted.shortestMs, openMs);
    accepted.longestMs = Math.max(accepted.longestMs, openMs);
  });
});

let baseline = settledRss();
let peak = baseline;
setInterval(() => {
  peak = Math.max(peak, process.memoryUsage.rss());
}, SAMPLE_MS).unref();

process.on('message', (message: Request) => {
  if (message.op === 'accepted') {
    process.send?.({ id: message.id, ...accepted });
    return;
  }
  if (message.op === 'connections') {
    server.server.getConnections((_err, connections) => process.send?.({ id: message.id, connections }));
    return;
  }
  if (message.op === 'mark') {
    baseline = settledRss();
    peak = baseline;
    process.send?.({ id: message.id, baseline, peak, now: baseline });
    return;
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  void settledAfterTeardown().then((now) => process.send?.({ id: message.id, baseline, peak, now }));
});

/**
 * Settled RSS once a closed connection is torn down: sockets, TLS state and their buffers are released over
 * the next event-loop turns, after the client already saw the close. The lowest of SETTLE_SAMPLES samples
 * SETTLE_GAP_MS apart (about half a second in all).
 */
const SETTLE_SAMPLES = 5;
const SETTLE_GAP_MS = 100;
async function settledAfterTeardown(): Promise<number> {
  let lowest = settledRss();
  for (let i = 1; i < SETTLE_SAMPLES; i++) {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_GAP_MS));
    lowest = Math.min(lowest, settledRss());
  }
  return lowest;
}
// The parent went away (test ended or crashed): so do we.
process.on('disconnect', () => process.exit(0));

const { port } = await server.listen('127.0.0.1:0');
process.send?.({ listening: port });
