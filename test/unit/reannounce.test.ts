// The private proxy's re-announcement loop on mock timers: the first round at start, the next one exactly
// one interval after the previous round finished, no overlapping rounds, and nothing after stop(); a round
// that a public proxy did not accept is repeated soon (backoff on a manual clock).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../src/core/json.js';
import type { JsonRpcReply } from '../../src/jsonrpc/client.js';
import { AnnouncementTable } from '../../src/proxy/shared/announcements.js';
import type { EpsCaller } from '../../src/proxy/shared/eps-link.js';
import { REANNOUNCE_INTERVAL_MS, REANNOUNCE_RETRY, Reannouncer } from '../../src/proxy/private/reannounce.js';
import { ManualClock } from '../helpers/manual-clock.js';

/** An EPS link whose calls stay pending until answered, so a round can be held open. */
class HeldEps implements EpsCaller {
  readonly calls: { method: string; params: JsonObject }[] = [];
  private readonly pending: (() => void)[] = [];
  call(method: string, params: JsonObject): Promise<JsonRpcReply> {
    this.calls.push({ method, params });
    return new Promise((resolve) => this.pending.push(() => resolve({ id: '1', result: 'ok' })));
  }
  answerAll(): void {
    for (const answer of this.pending.splice(0)) answer();
  }
  close(): void {}
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

it('re-announces one interval after the previous round has finished, and stops cleanly', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const table = new AnnouncementTable('private');
  table.upsert({ domain: 'a.internal-server.local', owner: 'public-proxy-1.ga', expiresAt: null });
  const eps = new HeldEps();
  const reannouncer = new Reannouncer(table, eps);
  reannouncer.start();
  assert.equal(eps.calls.length, 1, 'the first round starts at once');
  assert.equal(eps.calls[0]!.method, 'public-proxy-1.ga.announceConnections');

  // While a round is in flight no timer runs, however long it takes.
  t.mock.timers.tick(3 * REANNOUNCE_INTERVAL_MS);
  assert.equal(eps.calls.length, 1);
  eps.answerAll();
  await turn();

  t.mock.timers.tick(REANNOUNCE_INTERVAL_MS - 1);
  assert.equal(eps.calls.length, 1, 'not before the interval');
  t.mock.timers.tick(1);
  assert.equal(eps.calls.length, 2, 'the second round, one interval after the first finished');
  eps.answerAll();
  await turn();

  await reannouncer.stop();
  t.mock.timers.tick(10 * REANNOUNCE_INTERVAL_MS);
  assert.equal(eps.calls.length, 2, 'nothing after stop()');
});

it('a round a public proxy did not accept is repeated after the backoff, then the interval again', async (t) => {
  const table = new AnnouncementTable('private');
  table.upsert({ domain: 'a.internal-server.local', owner: 'public-proxy-1.ga', expiresAt: null });
  let down = 3;
  const calls: number[] = [];
  const clock = new ManualClock();
  const eps: EpsCaller = {
    call: async () => {
      calls.push(clock.now());
      if (down-- > 0) throw new Error('connect ECONNREFUSED');
      return { id: '1', result: 'ok' };
    },
    close: () => undefined,
  };
  const reannouncer = new Reannouncer(table, eps, REANNOUNCE_INTERVAL_MS, clock);
  t.after(() => reannouncer.stop());
  reannouncer.start();
  await clock.advance(0);
  assert.equal(calls.length, 1);
  // Three failures: retries after at most 100, 200 and 400 ms (doubling, half jittered).
  await clock.advance(REANNOUNCE_RETRY.initialMs * 7);
  assert.equal(calls.length, 4, 'three quick retries, the third accepted');
  const gaps = calls.slice(1).map((at, i) => at - calls[i]!);
  gaps.forEach((gap, i) =>
    assert.ok(gap <= REANNOUNCE_RETRY.initialMs * 2 ** i, `retry ${i + 1} after ${gap} ms`),
  );
  // Accepted: back to the normal interval.
  await clock.advance(calls[3]! + REANNOUNCE_INTERVAL_MS - 1 - clock.now());
  assert.equal(calls.length, 4);
  await clock.advance(1);
  assert.equal(calls.length, 5);
});
