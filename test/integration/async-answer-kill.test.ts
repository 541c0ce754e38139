/**
 * kill -9 during the delivery of a stored answer (docs/protocol.md#store-and-forward, "Once to the
 * application"): ls-1's answer waits in its outbox while hd-1 is down; hd-1 comes back and its backend is
 * still busy taking `respond` when one of the two eps processes is killed. After the restart hd-1's backend
 * has taken `respond` exactly once: a copy it may have seen without answering (its eps died holding it)
 * comes again marked `redelivered`; a copy it answered is never handed over again. Run with both stores
 * (file journal, Redis).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../src/core/json.js';
import { AsyncPair, fileStore, redisStore, type StoreSetup } from '../helpers/async-pair.js';
import { redisSkip } from '../helpers/sd-harness.js';
import { respond, respondsFor, status, STEP_MS } from '../helpers/async-flow.js';
import { waitFor } from '../helpers/wait.js';

let pair: AsyncPair;

/** hd-1's request `id`, acknowledged by ls-1; its answer queued at ls-1 while hd-1 is down. */
async function answerQueued(id: string): Promise<string> {
  const request = `ls-1.locate(${id})`;
  await pair.marked('ls-1.locate', id);
  await pair.stopNode('hd-1');
  const r = await respond(pair.lsPort, 'ls-1', request, { result: { found: id } });
  assert.deepEqual(r.json.result, { delivered: false, queued: true, caller: 'hd-1' }, r.text);
  return request;
}

/** Holds every `respond` at hd-1's backend until the returned function is called. */
function holdRespond(): () => void {
  let release = (): void => undefined;
  pair.hdBackend.respondGate = new Promise<void>((resolve) => (release = resolve));
  return () => {
    pair.hdBackend.respondGate = undefined;
    release();
  };
}

const accepted = (id: string): JsonObject[] =>
  pair.hdBackend.answered.filter((m) => m.method === 'respond' && m.id === id);

const STORES: [string, () => Promise<StoreSetup>, false | string][] = [
  ['file store', async () => fileStore(), false],
  ['Redis store', redisStore, redisSkip],
];

for (const [label, setup, skip] of STORES)
  describe(`kill -9 during a hand-over (${label})`, { skip }, () => {
    before(async () => {
      pair = await AsyncPair.start({ store: await setup() });
    });

    after(async () => {
      await pair?.close();
    });

    test('kill -9 of hd-1 while its backend takes the answer: taken once after the restart, marked redelivered', async () => {
      const request = await answerQueued('kill-hd');
      const release = holdRespond();
      try {
        await pair.startNode('hd-1');
        await respondsFor(pair.hdBackend, 'kill-hd');
        await pair.stopNode('hd-1', 'SIGKILL');
      } finally {
        release();
      }
      assert.equal(accepted('kill-hd').length, 0, 'the held reply went to a dead eps');
      await pair.startNode('hd-1');
      const [first, again] = await respondsFor(pair.hdBackend, 'kill-hd', 2);
      assert.deepEqual((again!.params as JsonObject).result, { found: 'kill-hd' });
      assert.equal((again!.params as JsonObject).redelivered, true, 'the second hand-over says so');
      assert.equal((first!.params as JsonObject).redelivered, undefined);
      await pair.drained('ls-1');
      assert.equal((await respondsFor(pair.hdBackend, 'kill-hd')).length, 2);
      assert.equal(accepted('kill-hd').length, 1);
      assert.equal(((await status(pair.lsPort, 'ls-1', request)).pending as JsonObject).state, 'answered');
    });

    test("kill -9 of ls-1 while hd-1's backend takes the answer: ls-1 sends it again, hd-1 hands it over once", async () => {
      const request = await answerQueued('kill-ls');
      const release = holdRespond();
      try {
        await pair.startNode('hd-1');
        await respondsFor(pair.hdBackend, 'kill-ls');
        // ls-1 dies waiting for hd-1's confirmation: its outbox still holds the answer.
        await pair.stopNode('ls-1', 'SIGKILL');
      } finally {
        release();
      }
      await waitFor(() => accepted('kill-ls').length === 1, {
        timeoutMs: STEP_MS,
        what: "hd-1's backend to take the answer",
      });
      await waitFor(
        async () => ((await status(pair.hdPort, 'hd-1', request)).awaited as JsonObject).state === 'done',
        { timeoutMs: STEP_MS, what: 'hd-1 to record the answer as handed over' },
      );
      await pair.startNode('ls-1');
      // ls-1 finds the answer in its outbox, sends it again; hd-1 confirms the repeat and drops it.
      await pair.drained('ls-1');
      assert.equal(((await status(pair.lsPort, 'ls-1', request)).pending as JsonObject).state, 'answered');
      const got = await respondsFor(pair.hdBackend, 'kill-ls');
      assert.equal(got.length, 1, 'handed to the backend once');
      assert.equal((got[0]!.params as JsonObject).redelivered, undefined);
      assert.equal(accepted('kill-ls').length, 1);
    });
  });
