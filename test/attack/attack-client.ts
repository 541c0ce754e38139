/**
 * The attacker's side: a pinned client (hd-1's certificate, real TLS) that writes raw HTTP/2 frames as
 * fast as the socket takes them, and runAttack(), which runs one attack against the child server and
 * checks the three things every row of the flood budget promises: the attacking connection is closed by
 * the server within a few seconds, the server's settled RSS grows by at most a few MiB, and a bystander
 * on another connection keeps being answered meanwhile.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { errorName, FrameType, type ErrorCode } from '../../src/grpc/h2/codes.js';
import { fakeClient, type FakePeer } from '../helpers/h2-fake-server.js';
import { handshake } from '../helpers/h2-grpc-server.js';
import { waitFor, withDeadline } from '../helpers/wait.js';
import type { Frame } from '../../src/grpc/h2/frames.js';
import { bystander, describeRss, type AttackServer } from './attack-server.js';

/** The attacking connection must be closed by the server within this time after the attack started. */
export const CLOSE_WITHIN_MS = 5000;
/** Settled RSS growth allowed per attack. */
export const RSS_GROWTH_LIMIT_MIB = 8;

/** `count` copies of `unit`, as one buffer (floods are built before they are sent, at full speed). */
export function repeated(unit: Buffer, count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, () => unit));
}

/**
 * Writes `bytes` as fast as the socket takes them; stops early (without error) when the server closes the
 * connection. Resolves when everything was handed to the socket or the socket is gone.
 */
export async function flood(peer: FakePeer, bytes: Buffer): Promise<void> {
  const socket = peer.socket;
  const CHUNK = 256 * 1024;
  for (let pos = 0; pos < bytes.length && !socket.destroyed && !peer.closed; pos += CHUNK) {
    if (socket.write(bytes.subarray(pos, pos + CHUNK))) continue;
    const drainedOrClosed = new Promise<void>((resolve) => {
      const done = (): void => {
        socket.off('drain', done).off('close', done);
        resolve();
      };
      socket.on('drain', done).on('close', done);
    });
    await withDeadline(drainedOrClosed, { timeoutMs: CLOSE_WITHIN_MS, what: 'the socket to drain or close' });
  }
}

export interface AttackOutcome {
  /** The GOAWAY the server sent before closing, if any. */
  goaway?: { code: ErrorCode; debug: string };
  closedAfterMs: number;
  /** Peak RSS growth of the server while the attack ran (sampled), in MiB. */
  peakMiB: number;
  text: string;
}

export interface AttackOptions {
  /** The GOAWAY code the server must send (undefined: a close without GOAWAY is expected or fine). */
  goaway?: ErrorCode;
  /**
   * The attacker never reads, not even after the attack: the close is seen on the server's side (its
   * connection count), and no GOAWAY is read.
   */
  neverRead?: boolean;
  /** Settings the attacker sends in its preface. */
  settings?: Parameters<typeof handshake>[1];
  /** The settled RSS growth allowed (default RSS_GROWTH_LIMIT_MIB). */
  settledLimitMiB?: number;
}

/**
 * Runs `attack` on a fresh pinned connection to `server` and asserts the promises of the flood budget.
 * The attack writes (and may read frames itself); afterwards the GOAWAY is awaited, then the close.
 */
export async function runAttack(
  t: TestContext,
  server: AttackServer,
  attack: (peer: FakePeer) => Promise<void>,
  options: AttackOptions = {},
): Promise<AttackOutcome> {
  await server.mark();
  const bystanding = await bystander(server.port);
  const peer = await fakeClient(server.port);
  const closed = new Promise<void>((resolve) =>
    peer.closed ? resolve() : peer.socket.once('close', () => resolve()),
  );
  let outcome: AttackOutcome;
  try {
    await handshake(peer, options.settings);
    const answeredBefore = bystanding.answered;
    const started = performance.now();
    await attack(peer);
    const left = (): number => Math.max(1, CLOSE_WITHIN_MS - (performance.now() - started));
    let goawayFrame: Frame | undefined;
    if (options.neverRead) {
      // Only the bystander's connection may remain.
      await waitFor(async () => (await server.connections()) <= 1, {
        timeoutMs: left(),
        what: 'the server to close the attacker',
        intervalMs: 20,
      });
    } else {
      peer.socket.resume();
      goawayFrame = await peer.next((f) => f.type === FrameType.GOAWAY, left()).catch(() => undefined);
      await withDeadline(closed, { timeoutMs: left(), what: 'the server to close the attacker' });
    }
    const closedAfterMs = performance.now() - started;
    const goaway = goawayFrame && {
      code: goawayFrame.payload.readUInt32BE(4) as ErrorCode,
      debug: goawayFrame.payload.subarray(8).toString(),
    };
    const calls = await bystanding.stop();
    const rss = describeRss(await server.measure());
    const text =
      `closed after ${closedAfterMs.toFixed(0)} ms` +
      (goaway ? ` with GOAWAY ${errorName(goaway.code)} "${goaway.debug}"` : ' without GOAWAY') +
      `; ${rss.text}; bystander answered ${calls.answered} calls (${calls.answered - answeredBefore}+ during the attack)`;
    t.diagnostic(text);
    outcome = { ...(goaway ? { goaway } : {}), closedAfterMs, peakMiB: rss.peakMiB, text };
    assert.deepEqual(calls.errors, [], 'the bystander connection kept being answered');
    assert.ok(calls.answered > answeredBefore, 'the bystander was answered during the attack');
    if (options.goaway !== undefined) {
      assert.equal(goaway?.code, options.goaway, `GOAWAY ${errorName(options.goaway)} expected: ${text}`);
    }
    assert.ok(closedAfterMs < CLOSE_WITHIN_MS, `closed within ${CLOSE_WITHIN_MS} ms: ${text}`);
    const limit = options.settledLimitMiB ?? RSS_GROWTH_LIMIT_MIB;
    assert.ok(rss.grownMiB <= limit, `settled RSS growth within ${limit} MiB: ${text}`);
  } finally {
    peer.socket.destroy();
  }
  return outcome;
}
