/**
 * A server connection's lifetime (src/grpc/server-lifecycle.ts) on the in-memory harness and a manual
 * clock: the idle close, renewal at the maximum age with its grace, and the ping after silence with its
 * timeout. Each boundary is checked 1 ms before and at the limit, with no real time involved.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { DEFAULT_SERVER_KEEPALIVE, type ServerKeepalive } from '../../src/grpc/keepalive.js';
import { superviseConnection } from '../../src/grpc/server-lifecycle.js';
import type { H2Stream } from '../../src/grpc/h2/stream.js';
import {
  assertNothingSent,
  clientHandshake,
  duplexServer,
  framesBeforePong,
  goaway,
  type DuplexServer,
} from '../helpers/h2-duplex.js';
import { grpcRequest } from '../helpers/h2-grpc-server.js';

const { GOAWAY, HEADERS, PING } = FrameType;
const IDLE_MS = 60_000;
const SILENCE_MS = 40_000;
const PING_TIMEOUT_MS = 10_000;
const AGE_MS = 100_000;
const GRACE_MS = 30_000;

/** A supervised server connection whose streams stay open (the handler never answers). */
async function supervised(
  keepalive: Partial<ServerKeepalive>,
): Promise<DuplexServer & { streams: H2Stream[] }> {
  // Without an answer the connection's own pings would end it during long advances: none unless asked.
  const quiet = { maxAgeMs: 1000 * AGE_MS, pingAfterSilenceMs: 1000 * AGE_MS };
  const settings = { ...DEFAULT_SERVER_KEEPALIVE, ...quiet, ...keepalive };
  const streams: H2Stream[] = [];
  let onIdle: (idle: boolean) => void = () => undefined;
  const server = duplexServer(
    { onStream: (s) => streams.push(s), onIdle: (idle) => onIdle(idle) },
    (conn, clock) => (onIdle = superviseConnection(conn, settings, clock)),
  );
  await clientHandshake(server.peer);
  return { ...server, streams };
}

test('lifecycle: a connection without calls gets GOAWAY NO_ERROR at maxIdleMs, not 1 ms before', async () => {
  const { peer, clock, close } = await supervised({ maxIdleMs: IDLE_MS });
  try {
    await clock.advance(IDLE_MS - 1);
    await assertNothingSent(peer, [GOAWAY], 'early');
    await clock.advance(1);
    assert.equal((await goaway(peer)).code, ErrorCode.NO_ERROR);
  } finally {
    close();
  }
});

test('lifecycle: an open call holds off the idle close; it counts from the end of the last call', async () => {
  const { peer, clock, conn, streams, close } = await supervised({ maxIdleMs: IDLE_MS });
  try {
    peer.send(HEADERS, Flag.END_HEADERS, 1, grpcRequest('/EPS/Stream'));
    await framesBeforePong(peer, 'opened');
    assert.equal(streams.length, 1);
    await clock.advance(3 * IDLE_MS);
    await assertNothingSent(peer, [GOAWAY], 'busy');
    conn.reset(streams[0]!, ErrorCode.CANCEL, 'test ends the call');
    await clock.advance(IDLE_MS - 1);
    await assertNothingSent(peer, [GOAWAY], 'idle');
    await clock.advance(1);
    assert.equal((await goaway(peer)).code, ErrorCode.NO_ERROR);
  } finally {
    close();
  }
});

for (const [random, factor] of [
  [0, 0.9],
  [0.5, 1],
  [0.999_99, 1.1],
] as const) {
  test(`lifecycle: renewal at ${factor} x the maximum age (jitter ${random}): GOAWAY, open calls finish, then the grace ends it`, async (t) => {
    // The age is spread by ±10 % with Math.random; fixed here so that the boundary can be checked exactly.
    t.mock.method(Math, 'random', () => random);
    const { peer, clock, close } = await supervised({ maxAgeMs: AGE_MS, maxAgeGraceMs: GRACE_MS });
    try {
      peer.send(HEADERS, Flag.END_HEADERS, 1, grpcRequest('/EPS/Stream'));
      const due = Math.ceil(AGE_MS * (0.9 + random / 5));
      assert.ok(Math.abs(due - factor * AGE_MS) < 1.5);
      await clock.advance(due - 1);
      await assertNothingSent(peer, [GOAWAY], 'young');
      await clock.advance(1);
      const away = await goaway(peer);
      assert.equal(away.code, ErrorCode.NO_ERROR);
      assert.equal(away.lastStreamId, 1, 'the open call may finish');
      await clock.advance(GRACE_MS - 1);
      await framesBeforePong(peer, 'grace');
      await clock.advance(1);
      await assert.rejects(
        peer.next(() => false),
        /connection closed/,
      );
    } finally {
      close();
    }
  });
}

test('lifecycle: a busy connection silent for pingAfterSilenceMs is pinged; no answer in time closes it', async () => {
  const { peer, clock, close } = await supervised({
    pingAfterSilenceMs: SILENCE_MS,
    pingTimeoutMs: PING_TIMEOUT_MS,
  });
  try {
    peer.send(HEADERS, Flag.END_HEADERS, 1, grpcRequest('/EPS/Stream'));
    await clock.advance(SILENCE_MS / 2);
    // The peer speaks halfway: the silence starts again from here.
    await framesBeforePong(peer, 'speaks');
    await clock.advance(SILENCE_MS - 1);
    const ownPing = (f: { type: number; flags: number }): boolean =>
      f.type === PING && (f.flags & Flag.ACK) === 0;
    const early = await framesBeforePong(peer, 'quiet');
    assert.equal(early.filter(ownPing).length, 0, 'no ping 1 ms before the silence limit');
    // framesBeforePong was itself traffic; now stay silent for the whole interval.
    await clock.advance(SILENCE_MS);
    const ping = await peer.next(ownPing);
    // Answered: the connection stays.
    peer.send(PING, Flag.ACK, 0, ping.payload);
    await clock.advance(PING_TIMEOUT_MS);
    await framesBeforePong(peer, 'alive');
    // Not answered: closed when the timeout runs out, not before.
    await clock.advance(SILENCE_MS);
    await peer.next(ownPing);
    await clock.advance(PING_TIMEOUT_MS - 1);
    await framesBeforePong(peer, 'waiting');
    await clock.advance(1);
    await assert.rejects(
      peer.next(() => false),
      /connection closed/,
    );
  } finally {
    close();
  }
});

test('lifecycle: an idle connection (no calls) is not pinged after silence', async () => {
  const { peer, clock, close } = await supervised({
    pingAfterSilenceMs: SILENCE_MS,
    maxIdleMs: 100 * SILENCE_MS,
  });
  try {
    await clock.advance(3 * SILENCE_MS);
    const frames = await framesBeforePong(peer, 'idle');
    assert.equal(frames.filter((f) => f.type === PING).length, 0);
  } finally {
    close();
  }
});
