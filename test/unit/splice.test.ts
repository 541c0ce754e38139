// Tests of splicing two real TCP connections: backpressure with a slow reader, half-close in both
// directions, peers vanishing, initial bytes, and the absence of any lifetime timer.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type net from 'node:net';
import { splice } from '../../src/proxy/shared/splice.js';
import { readToken } from '../../src/proxy/shared/tokens.js';
import { activeTimers, collect, connect, listen, type Listener } from '../helpers/net-pair.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;

interface Tunnel {
  /** The client's socket (peer of `a`). */
  x: net.Socket;
  /** Proxy side towards the client. */
  a: net.Socket;
  /** Proxy side towards the target. */
  b: net.Socket;
  /** The target's socket (peer of `b`). */
  y: net.Socket;
}

/** Resolves when the socket has closed, whatever errors it saw on the way. */
function closed(socket: net.Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

describe('splice', () => {
  let front: Listener;
  let target: Listener;
  before(async () => {
    front = await listen();
    target = await listen({ allowHalfOpen: true });
  });
  after(async () => {
    await front.close();
    await target.close();
  });

  async function tunnel(): Promise<Tunnel> {
    const acceptedA = front.accept();
    const x = await connect(front.port, { allowHalfOpen: true });
    const a = await acceptedA;
    const acceptedY = target.accept();
    const b = await connect(target.port);
    const y = await acceptedY;
    return { x, a, b, y };
  }

  it('moves 64 MiB to a slow reader with bounded buffering', async () => {
    const { x, a, b, y } = await tunnel();
    y.pause();
    const spliced = splice(a, b);
    let maxBuffered = 0;
    const sample = (): void => {
      maxBuffered = Math.max(maxBuffered, b.writableLength, a.readableLength);
    };
    a.on('data', sample);

    const total = 64 * MiB;
    const block = Buffer.alloc(64 * 1024);
    for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff;
    const sent = createHash('sha256');
    const writer = (async () => {
      for (let offset = 0; offset < total; offset += block.length) {
        block.writeUInt32BE(offset, 0);
        sent.update(block);
        if (!x.write(Buffer.from(block))) await once(x, 'drain');
      }
      x.end();
    })();

    // Stall the reader until the proxy has pushed back on the sender.
    await waitFor(() => a.isPaused(), {
      timeoutMs: 10_000,
      what: 'the proxy to pause the sender',
      intervalMs: 0,
    });
    const stalledAt = b.bytesWritten;
    assert.ok(stalledAt < total / 2, 'the proxy must not swallow the stream while the reader stalls');

    const received = createHash('sha256');
    let receivedBytes = 0;
    let sinceBreak = 0;
    y.on('data', (chunk: Buffer) => {
      received.update(chunk);
      receivedBytes += chunk.length;
      sinceBreak += chunk.length;
      if (sinceBreak >= 2 * MiB) {
        // Slow reader: take a break every 2 MiB.
        sinceBreak = 0;
        y.pause();
        setTimeout(() => y.resume(), 2);
      }
    });
    y.resume();
    await once(y, 'end');
    await writer;
    y.end();
    const result = await spliced;

    assert.equal(receivedBytes, total);
    assert.equal(received.digest('hex'), sent.digest('hex'));
    assert.equal(result.aToB, total);
    assert.equal(result.reason, 'closed');
    assert.ok(maxBuffered < 4 * MiB, `proxy buffered ${maxBuffered} bytes`);
  });

  it('keeps the other direction flowing after the client half-closes', async () => {
    const { x, a, b, y } = await tunnel();
    const spliced = splice(a, b);
    const atTarget = collect(y);
    const atClient = collect(x);
    x.end('request');
    assert.equal((await once(y, 'end')).length, 0);
    y.end('response after EOF');
    assert.equal((await atTarget).toString(), 'request');
    assert.equal((await atClient).toString(), 'response after EOF');
    const result = await spliced;
    assert.deepEqual(result, { aToB: 7, bToA: 18, reason: 'closed' });
    assert.ok(a.destroyed && b.destroyed);
  });

  it('keeps the other direction flowing after the target half-closes', async () => {
    const { x, a, b, y } = await tunnel();
    const spliced = splice(a, b);
    const atTarget = collect(y);
    const atClient = collect(x);
    y.end('bye');
    await once(x, 'end');
    x.end('late words');
    assert.equal((await atClient).toString(), 'bye');
    assert.equal((await atTarget).toString(), 'late words');
    const result = await spliced;
    assert.deepEqual(result, { aToB: 10, bToA: 3, reason: 'closed' });
  });

  it('closes the target when the client vanishes mid-stream', async () => {
    const { x, a, b, y } = await tunnel();
    const spliced = splice(a, b);
    const flood = setInterval(() => {
      if (!y.destroyed && y.writable) y.write(Buffer.alloc(64 * 1024));
    }, 1);
    try {
      await once(x, 'data');
      x.destroy();
      await closed(y);
    } finally {
      clearInterval(flood);
    }
    const result = await spliced;
    assert.ok(a.destroyed && b.destroyed);
    assert.ok(result.bToA > 0);
  });

  it('closes the client when the target resets', async () => {
    const { x, a, b, y } = await tunnel();
    const spliced = splice(a, b);
    const atClient = collect(x);
    x.write('something');
    await once(y, 'data');
    y.resetAndDestroy();
    await atClient; // EOF (x allows half-open, so it does not close by itself)
    const result = await spliced;
    assert.equal(result.reason, 'error');
    assert.ok(result.error instanceof Error);
  });

  it('writes initial bytes first and forwards bytes left behind by readToken', async () => {
    const { x, a, b, y } = await tunnel();
    const token = Buffer.alloc(32, 9);
    x.write(Buffer.concat([token, Buffer.from(' and the rest')]));
    assert.ok((await readToken(a)).equals(token));
    const spliced = splice(a, b, { initial: Buffer.from('REPLAYED HELLO') });
    const atTarget = collect(y);
    x.end();
    await once(y, 'end');
    y.end();
    assert.equal((await atTarget).toString(), 'REPLAYED HELLO and the rest');
    const result = await spliced;
    assert.equal(result.aToB, 14 + 13);
  });

  it('sets no timer and no socket timeout by default (long-lived streams stay open)', async () => {
    const { x, a, b, y } = await tunnel();
    const timersBefore = activeTimers();
    const spliced = splice(a, b);
    assert.equal(activeTimers(), timersBefore);
    assert.equal(a.timeout, undefined);
    assert.equal(b.timeout, undefined);
    x.write('ping');
    await once(y, 'data');
    assert.equal(activeTimers(), timersBefore);
    x.destroy();
    await once(y, 'end'); // a vanished client shows up as EOF at an idle target
    y.end();
    const result = await spliced;
    assert.deepEqual(result, { aToB: 4, bToA: 0, reason: 'closed' });
  });

  it('tears down after the optional idle timeout, but not while bytes flow', async () => {
    const clock = new ManualClock();
    const { x, a, b, y } = await tunnel();
    const spliced = splice(a, b, { idleTimeoutMs: 10_000, clock });
    const targetDone = collect(y);
    for (let i = 0; i < 10; i++) {
      x.write('.');
      await once(y, 'data');
      await clock.advance(5_000);
      assert.equal(a.destroyed, false, 'a byte every 5 s keeps the tunnel open');
    }
    await clock.advance(4_999);
    assert.equal(a.destroyed || b.destroyed, false, 'not idle before 10 s of silence');
    await clock.advance(1);
    assert.ok(a.destroyed && b.destroyed, 'both torn down after exactly 10 s of silence');
    const result = await spliced;
    assert.equal(result.reason, 'idle');
    assert.equal((await targetDone).length, 10);
    assert.equal(clock.pending, 0, 'no idle timer left behind');
  });
});
