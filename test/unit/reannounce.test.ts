// The private proxy's re-announcement loop on mock timers: the first round at start, the next one exactly
// one interval after the previous round finished, no overlapping rounds, and nothing after stop().
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../src/core/json.js';
import type { JsonRpcReply } from '../../src/jsonrpc/client.js';
import { AnnouncementTable } from '../../src/proxy/shared/announcements.js';
import type { EpsCaller } from '../../src/proxy/shared/eps-link.js';
import { REANNOUNCE_INTERVAL_MS, Reannouncer } from '../../src/proxy/private/reannounce.js';

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
