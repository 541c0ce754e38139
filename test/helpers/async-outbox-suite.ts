/**
 * Store and forward between real eps processes that are stopped, started and killed (docs/protocol.md#store-
 * and-forward), run once per store (file journal, Redis): hd-1 calls ls-1 over direct gRPC; whoever is
 * down, nothing acknowledged is lost and nothing reaches an application twice.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../src/core/json.js';
import type { AsyncBackend } from './async-backend.js';
import { AsyncPair, type StoreSetup } from './async-pair.js';
import { gateway, respond, respondsFor, rpc, status, STEP_MS } from './async-flow.js';
import { metricsText } from './network.js';
import { waitFor } from './wait.js';

export type { StoreSetup } from './async-pair.js';

export function outboxSuite(
  label: string,
  setup: () => Promise<StoreSetup>,
  skip: false | string = false,
): void {
  describe(`store and forward (${label})`, { skip }, () => {
    let pair: AsyncPair;
    let hdBackend: AsyncBackend;
    let lsBackend: AsyncBackend;
    let hdPort = 0;
    let lsPort = 0;
    let metricsPort = 0;

    const start = (name: 'hd-1' | 'ls-1'): Promise<void> => pair.startNode(name);
    const stop = (name: 'hd-1' | 'ls-1', signal: NodeJS.Signals = 'SIGTERM'): Promise<void> =>
      pair.stopNode(name, signal);
    const marked = (method: string, id: string, ttl = 120): Promise<JsonObject> =>
      pair.marked(method, id, ttl);

    before(async () => {
      // An unmarked call to a stopped ls-1 fails at once instead of waiting for ls-1's return (seconds of
      // each run); marked calls never wait (they fail fast to the outbox), so nothing else changes.
      pair = await AsyncPair.start({ store: await setup(), grpcClient: { reconnect_wait: 0 } });
      ({ hdBackend, lsBackend, hdPort, lsPort, metricsPort } = pair);
    });

    after(async () => {
      await pair?.close();
    });

    test('hd-1 is down when ls-1 answers: the answer is queued and arrives once hd-1 is back', async () => {
      const ack = await marked('ls-1.locate', 'down-1');
      assert.equal(((ack.result as JsonObject)._async as JsonObject).request, 'ls-1.locate(down-1)');
      await stop('hd-1');
      const answered = await respond(lsPort, 'ls-1', 'ls-1.locate(down-1)', { result: { lat: 1 } });
      assert.deepEqual(
        answered.json.result,
        { delivered: false, queued: true, caller: 'hd-1' },
        answered.text,
      );
      const queued = await status(lsPort, 'ls-1', 'ls-1.locate(down-1)');
      assert.equal((queued.pending as JsonObject).state, 'answer_queued');
      assert.equal((queued.outbox as JsonObject).kind, 'answer');
      const again = await respond(lsPort, 'ls-1', 'ls-1.locate(down-1)', { result: { lat: 2 } });
      assert.match(again.text, /ERR_ASYNC_ALREADY_ANSWERED/);

      await start('hd-1');
      const [got] = await respondsFor(hdBackend, 'down-1');
      assert.deepEqual((got!.params as JsonObject).result, { lat: 1 });
      await pair.drained('ls-1');
      assert.equal((await respondsFor(hdBackend, 'down-1')).length, 1);
      const done = await status(lsPort, 'ls-1', 'ls-1.locate(down-1)');
      assert.equal((done.pending as JsonObject).state, 'answered');
    });

    test('ls-1 is down when hd-1 sends: the requests are delivered when ls-1 starts', async () => {
      await stop('ls-1');
      const queued = await marked('ls-1.locate', 'down-2');
      assert.deepEqual((queued.result as JsonObject)._async, {
        ttl: 120,
        request: 'ls-1.locate(down-2)',
        queued: true,
      });
      // The same id again while the first waits in the outbox: refused, the queued one is kept as it was.
      const reused = await gateway(
        hdPort,
        'hd-1',
        rpc('ls-1.locate', { person: 'someone else', _async: { ttl: 120 } }, 'down-2'),
      );
      assert.equal(
        ((reused.json.error as JsonObject)?.data as JsonObject)?.code,
        'ERR_ASYNC_ID_IN_USE',
        reused.text,
      );
      await marked('ls-1.lookup', 'down-3');
      const unmarked = await gateway(hdPort, 'hd-1', rpc('ls-1.locate', { person: 'x' }, 'down-4'));
      assert.equal((unmarked.json.error as JsonObject).code, 500, 'an unmarked call fails as before');
      assert.equal((await status(hdPort, 'hd-1', 'ls-1.locate(down-2)')).awaited !== null, true);
      const metrics = await metricsText(metricsPort);
      assert.match(metrics, /eps_async_outbox_messages\{peer="ls-1"\} 2\n/);
      assert.match(metrics, /eps_async_outbox_oldest_seconds\{peer="ls-1"\} \d/);
      // A failed delivery round while ls-1 is down, awaited: ls-1 may be down only briefly (the rounds
      // run every 0.1 s at first, a loaded machine may run none before ls-1 is back).
      await waitFor(
        async () =>
          /eps_async_outbox_retries_total\{peer="ls-1"\} [1-9]/.test(await metricsText(metricsPort)),
        { timeoutMs: STEP_MS, what: 'a retry of the outbox to ls-1', intervalMs: 50 },
      );

      await start('ls-1');
      await pair.drained('hd-1');
      assert.deepEqual(
        pair.atLs('ls-1.locate(down-2)').map((m) => (m.params as JsonObject).person),
        ['down-2'],
        'the first request under the id, once',
      );
      assert.equal(pair.atLs('ls-1.locate(down-4)').length, 0);
      // lookup answers at once: hd-1's backend gets that answer as `respond`.
      const [sync] = await respondsFor(hdBackend, 'down-3');
      assert.equal((sync!.params as JsonObject).result, 'sync');
      const answered = await respond(lsPort, 'ls-1', 'ls-1.locate(down-2)', { result: 'found' });
      assert.equal((answered.json.result as JsonObject).delivered, true, answered.text);
      const got = await respondsFor(hdBackend, 'down-2');
      assert.equal(got.length, 1);
      assert.equal((got[0]!.params as JsonObject).result, 'found');

      // Visible: ls-1's pending request; each hop logs the request id.
      assert.match(
        await metricsText(pair.lsMetricsPort),
        /eps_async_entries\{table="pending",peer="hd-1"\} [1-9]/,
      );
      // Awaited, not read at once: a line reaches us through the process's stderr pipe, which may lag
      // behind the HTTP reply that follows it under load (hd-1 logs "handed to the backend" after its
      // backend took the answer, which is when respondsFor above returns).
      const logged = async (node: 'hd-1' | 'ls-1', steps: RegExp[]): Promise<void> => {
        const lines = (): string[] => pair.logLines(node, 'ls-1.locate(down-2)');
        const missing = (): RegExp[] => steps.filter((step) => !lines().some((l) => step.test(l)));
        // On timeout the assertion below names what is missing, with the lines logged by then.
        await waitFor(() => missing().length === 0, {
          timeoutMs: STEP_MS,
          what: `${node}'s log lines`,
        }).catch(() => undefined);
        assert.deepEqual(missing(), [], `${node}: not logged, in\n${lines().join('\n')}`);
      };
      await logged('hd-1', [
        /marked request queued|joins the queue/,
        /queued for a peer that cannot be reached/,
        /queued message delivered/,
        /acknowledged by the callee/,
        /answer handed to the backend/,
      ]);
      await logged('ls-1', [/request acknowledged, answer pending/, /answer delivered to the caller/]);
    });

    test('a queued request that outlives its time to live comes back to hd-1 as an error', async () => {
      await stop('ls-1');
      try {
        await marked('ls-1.locate', 'late-1', 1);
        const [got] = await respondsFor(hdBackend, 'late-1');
        const error = (got!.params as JsonObject).error as JsonObject;
        assert.equal((error.data as JsonObject).code, 'ERR_ASYNC_UNDELIVERED');
        assert.match(error.message as string, /ls-1 could not be reached/);
        await pair.drained('hd-1');
        assert.match(
          await metricsText(metricsPort),
          /eps_async_outbox_expired_total\{peer="ls-1",kind="request"\} [1-9]/,
        );
      } finally {
        await start('ls-1');
      }
      assert.equal(pair.atLs('ls-1.locate(late-1)').length, 0);
    });

    for (const victim of ['hd-1', 'ls-1'] as const) {
      test(`kill -9 of ${victim} while queued requests are delivered: none lost, none handled twice`, async (t) => {
        const ids = Array.from({ length: 40 }, (_, i) => `k-${victim}-${i}`);
        await stop('ls-1');
        // Together: the calls share the failing dial to ls-1 (one at a time, each would wait for its own).
        await Promise.all(ids.map((id) => marked('ls-1.locate', id)));
        lsBackend.ackDelayMs = 40;
        try {
          await start('ls-1');
          await waitFor(() => ids.filter((id) => pair.atLs(`ls-1.locate(${id})`).length > 0).length >= 10, {
            timeoutMs: STEP_MS,
            what: 'the first deliveries',
            intervalMs: 1,
          });
          await stop(victim, 'SIGKILL');
          await start(victim);
          await pair.drained('hd-1');
        } finally {
          lsBackend.ackDelayMs = 0;
        }
        const repeated = ids.filter((id) => pair.atLs(`ls-1.locate(${id})`).length > 1);
        t.diagnostic(`requests handed to ls-1's backend again, marked redelivered: ${repeated.length}`);
        for (const id of ids) {
          const arrivals = pair.atLs(`ls-1.locate(${id})`);
          assert.ok(arrivals.length >= 1, `${id} lost`);
          // Only a request with ls-1's backend when ls-1 died may come again, and it says so.
          for (const repeat of arrivals.slice(1)) {
            assert.equal(victim, 'ls-1', `${id} delivered twice`);
            const mark = (repeat.params as JsonObject)._async as JsonObject;
            assert.equal(mark.redelivered, true, `${id} repeated without the redelivered mark`);
          }
        }
        await Promise.all(
          ids.map(async (id) => {
            const r = await respond(lsPort, 'ls-1', `ls-1.locate(${id})`, { result: id });
            assert.equal(r.status, 200, r.text);
            assert.ok(r.json.result, `${id}: ${r.text}`);
          }),
        );
        await waitFor(() => ids.every((id) => hdBackend.calls('respond').some((m) => m.id === id)), {
          timeoutMs: STEP_MS,
          what: 'every answer at hd-1',
        });
        // "Once" counts only when nothing more can come: both outboxes empty.
        await pair.drained('ls-1');
        await pair.drained('hd-1');
        for (const id of ids)
          assert.equal((await respondsFor(hdBackend, id)).length, 1, `${id} answered twice`);
      });
    }
  });
}
