/**
 * The per-process budget for received message data not yet consumed (issue 10 finding 5), against a
 * server in a child process: many connections push into streaming handlers that do not read; the data
 * buffered never exceeds the budget, each stream that would go over it ends with RESOURCE_EXHAUSTED, the
 * connections survive, a normal call on another connection succeeds, and the budget is given back when
 * the streams end.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { STREAM_WINDOW } from '../../src/grpc/h2/limits.js';
import { Deadline } from '../../src/core/deadline.js';
import { fakeClient, type FakePeer } from '../helpers/h2-fake-server.js';
import { grpcRequest, handshake } from '../helpers/h2-grpc-server.js';
import { grpcSession } from '../helpers/grpc-local.js';
import { WindowSender } from '../helpers/h2-window-sender.js';
import { HOLD_PUSH, HoldServer, warmUp } from '../helpers/hold-server.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 2 ** 20;
const BUDGET_MIB = 16;
const CONNECTIONS = 12;

let child: HoldServer;

before(async () => {
  child = await HoldServer.start(BUDGET_MIB);
});

after(async () => {
  await child.stop();
});

test('the process budget holds across many connections; the stream over it gets RESOURCE_EXHAUSTED', async (t) => {
  await warmUp(child);
  const before = await child.ask('memory');
  const peers: FakePeer[] = [];
  try {
    for (let i = 0; i < CONNECTIONS; i++) {
      const peer = await fakeClient(child.port);
      peers.push(peer);
      await handshake(peer);
    }
    // Each connection pushes a whole stream window (the most one stream may buffer), all at once.
    const results = await Promise.all(
      peers.map(async (peer) => {
        peer.send(FrameType.HEADERS, Flag.END_HEADERS, 1, grpcRequest('/EPS/Hold'));
        const sender = new WindowSender(peer, 1, STREAM_WINDOW);
        await sender.push(HOLD_PUSH.subarray(0, STREAM_WINDOW));
        return sender.settle();
      }),
    );
    const budget = await child.ask('budget');
    const bound = BUDGET_MIB + 8;
    // Heap and Buffers also count socket buffers still in flight: a looser bound than RSS's.
    const heapBound = bound + 8;
    const grown = (r: typeof before): { rssMiB: number; heapMiB: number } => ({
      rssMiB: (r.rss! - before.rss!) / MiB,
      heapMiB: (r.heapAndBuffers! - before.heapAndBuffers!) / MiB,
    });
    // The budget holds the data from the moment it arrives, but the bytes of the pushes still in flight
    // (socket and TLS buffers) are released only as the server catches up, later under load: memory is
    // measured (after a full GC) until it is within the bounds, or the deadline passes.
    let after = await child.ask('memory');
    await waitFor(
      async () => {
        after = await child.ask('memory');
        const g = grown(after);
        return g.rssMiB < bound && g.heapMiB < heapBound;
      },
      { timeoutMs: 10_000, what: 'the server memory to settle within the bounds', intervalMs: 100 },
    ).catch(() => undefined); // the assertions below say by how much it did not
    const refused = results.filter((r) => r.ended !== undefined);
    const { rssMiB, heapMiB } = grown(after);
    t.diagnostic(
      `${CONNECTIONS} connections x ${STREAM_WINDOW} bytes against ${BUDGET_MIB} MiB: ${refused.length} refused; ` +
        `peak buffered ${budget.peak} bytes; server RSS +${rssMiB.toFixed(1)} MiB, heap+buffers +${heapMiB.toFixed(1)} MiB`,
    );
    assert.equal(budget.max, BUDGET_MIB * MiB);
    assert.ok(budget.peak! <= budget.max, 'never more buffered than the budget');
    // A stream that fits holds a whole window; at most max / window of them fit, every other one is refused.
    assert.ok(refused.length >= CONNECTIONS - Math.floor(budget.max / STREAM_WINDOW), 'streams over budget');
    for (const r of refused) {
      assert.equal(r.ended!['grpc-status'], '8', 'RESOURCE_EXHAUSTED');
      assert.match(decodeURIComponent(r.ended!['grpc-message'] ?? ''), /unread message data in this process/);
    }
    for (const r of results.filter((x) => x.ended === undefined)) assert.equal(r.sent, STREAM_WINDOW);
    assert.ok(
      heapMiB < heapBound,
      `heap and buffers grew by ${heapMiB.toFixed(1)} MiB (bound ${heapBound} MiB)`,
    );
    assert.ok(rssMiB < bound, `RSS grew by ${rssMiB.toFixed(1)} MiB (bound ${bound} MiB)`);
    assert.ok((await child.ask('budget')).used! > 0, 'the data was still buffered when memory was measured');

    // The refused streams' connections survive: a new call on one of them is served.
    const survivor = peers[results.indexOf(refused[0]!)]!;
    survivor.send(FrameType.HEADERS, Flag.END_HEADERS, 3, grpcRequest('/EPS/Call'));
    survivor.send(FrameType.DATA, Flag.END_STREAM, 3, Buffer.from([0, 0, 0, 0, 2, 0x68, 0x69]));
    assert.equal((await survivor.response(3)).trailers['grpc-status'], '0');
    // So is a normal call on another connection, while the held streams still hold their data.
    const session = await grpcSession(child.port);
    try {
      const answer = await session.unary('/EPS/Call', Buffer.from('still served'), Deadline.after(5000));
      assert.equal(answer.toString(), 're:still served');
    } finally {
      session.destroy();
    }
    assert.ok((await child.ask('budget')).used! > 0, 'the held data was still buffered during those calls');
  } finally {
    for (const peer of peers) peer.socket.destroy();
  }
  // Streams that end give their data back.
  await waitFor(async () => (await child.ask('budget')).used === 0, {
    timeoutMs: 10_000,
    what: 'the budget to be given back',
  });
});
