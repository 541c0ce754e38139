/**
 * The dialling side of a reverse stream serves at most MAX_CONCURRENT_PER_STREAM (256) requests at once:
 * at the 256th unanswered request it pauses the stream (flow control holds the rest back in the peer),
 * and it resumes as soon as one answer is out. A scripted stream whose sends complete only when the test
 * says: no sockets, no waiting on time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_CONCURRENT_PER_STREAM, PeerLoop } from '../../src/channels/reverse/dialling-side.js';
import type { Broker } from '../../src/broker/broker.js';
import type { ClientBidi } from '../../src/grpc/client.js';
import type { PooledSession } from '../../src/grpc/peer-pool.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { waitFor } from '../helpers/wait.js';

/** The client end of a ServerCall stream as the dialling side uses it; each send waits for release(). */
class ScriptedBidi {
  pauses = 0;
  resumes = 0;
  private messageListener?: (payload: Buffer) => void;
  private readonly unsent: (() => void)[] = [];

  onMessage(listener: (payload: Buffer) => void): void {
    this.messageListener = listener;
  }
  onEnd(): void {}
  send(): Promise<void> {
    return new Promise((resolve) => this.unsent.push(resolve));
  }
  pause(): void {
    this.pauses++;
  }
  resume(): void {
    this.resumes++;
  }
  cancel(): void {}
  /** A request from the accepting side (one that cannot be decoded: its error answer is immediate). */
  request(): void {
    this.messageListener!(Buffer.from([0xff, 0xff, 0xff]));
  }
  /** Lets the oldest waiting send complete. */
  release(): void {
    this.unsent.shift()!();
  }
  get sends(): number {
    return this.unsent.length;
  }
}

const waitForIt = (predicate: () => boolean, what: string): Promise<void> =>
  waitFor(predicate, { timeoutMs: 5000, what, intervalMs: 0 });

test(`the dialling side pauses its stream at ${MAX_CONCURRENT_PER_STREAM} requests in flight, resumes after one answer`, async () => {
  assert.equal(MAX_CONCURRENT_PER_STREAM, 256);
  const stream = new ScriptedBidi();
  const pooled = { session: { bidi: () => stream as unknown as ClientBidi }, peer: {}, route: '' };
  const loop = new PeerLoop(
    'proxy-eps',
    'hd-2',
    {} as Broker,
    async () => pooled as unknown as PooledSession,
    new ManualClock(),
  );
  loop.start();
  try {
    await waitForIt(() => stream.sends === 1, 'the announcement');
    stream.release();
    // Answers leave in order, one send at a time: none completes, so every request stays in flight.
    for (let i = 1; i < MAX_CONCURRENT_PER_STREAM; i++) stream.request();
    assert.equal(stream.pauses, 0, `reading on with ${MAX_CONCURRENT_PER_STREAM - 1} in flight`);
    stream.request();
    assert.equal(stream.pauses, 1, `paused at ${MAX_CONCURRENT_PER_STREAM} in flight`);
    await waitForIt(() => stream.sends === 1, 'the first answer to be sent');
    assert.equal(stream.resumes, 0, 'still paused while no answer is out');
    stream.release();
    await waitForIt(() => stream.resumes === 1, 'the stream to resume after one answer');
    stream.request();
    assert.equal(stream.pauses, 2, 'the next request fills the bound again: paused again');
  } finally {
    loop.stop();
  }
});
