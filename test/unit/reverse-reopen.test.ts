/**
 * The dialling side of a reverse stream re-opens a stream that could not be opened quickly: the first retry
 * within REOPEN_BACKOFF.initialMs, later ones never more than REOPEN_BACKOFF.maxMs apart (so a restarted
 * peer is served again within 1 s of listening), and nothing after stop(). A manual clock, no sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerLoop, REOPEN_BACKOFF } from '../../src/channels/reverse/dialling-side.js';
import type { Broker } from '../../src/broker/broker.js';
import type { PooledSession } from '../../src/grpc/peer-pool.js';
import { ManualClock } from '../helpers/manual-clock.js';

test('a peer that cannot be reached is tried again soon, at most REOPEN_BACKOFF.maxMs apart', async () => {
  const clock = new ManualClock();
  const attempts: number[] = [];
  const session = async (): Promise<PooledSession> => {
    attempts.push(clock.now());
    throw new Error('connect ECONNREFUSED');
  };
  const loop = new PeerLoop('proxy-eps', 'hd-2', {} as Broker, session, clock);
  loop.start();
  await clock.advance(0);
  assert.equal(attempts.length, 1, 'the first attempt at once');
  await clock.advance(60_000);
  const gaps = attempts.slice(1).map((at, i) => at - attempts[i]!);
  assert.ok(gaps[0]! <= REOPEN_BACKOFF.initialMs, `first retry after ${gaps[0]} ms`);
  assert.ok(Math.max(...gaps) <= REOPEN_BACKOFF.maxMs, `longest gap ${Math.max(...gaps)} ms`);
  assert.ok(
    Math.min(...gaps.slice(4)) >= REOPEN_BACKOFF.maxMs * (1 - REOPEN_BACKOFF.jitter),
    'but a dead peer is not hammered',
  );
  loop.stop();
  const before = attempts.length;
  await clock.advance(60_000);
  assert.equal(attempts.length, before, 'nothing after stop()');
  assert.equal(clock.pending, 0);
});
