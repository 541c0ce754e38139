/**
 * The `undelivered` notice at the answering side's backend (docs/protocol.md#store-and-forward, item 4),
 * between real eps processes: ls-1's backend acknowledges hd-1's request for 3 seconds, hd-1 dies, ls-1's
 * application answers; the answer waits in ls-1's outbox until the request's time to live ends, then
 * ls-1's backend receives `undelivered` naming the request, the caller and ERR_ASYNC_UNDELIVERED, and only
 * then the answer leaves the outbox.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../src/core/json.js';
import { AsyncPair } from '../helpers/async-pair.js';
import { respond, status, STEP_MS } from '../helpers/async-flow.js';
import { waitFor } from '../helpers/wait.js';

/** Seconds ls-1's backend keeps the request: room for a kill and a respond on a busy machine. */
const TTL = 3;
let pair: AsyncPair;

before(async () => {
  pair = await AsyncPair.start();
});

after(async () => {
  await pair?.close();
});

test("an answer that outlives its time to live comes back to ls-1's backend as `undelivered`", async () => {
  const request = 'ls-1.locate(und-1)';
  pair.lsBackend.ackTtl = TTL;
  try {
    const ack = await pair.marked('ls-1.locate', 'und-1');
    assert.equal(((ack.result as JsonObject)._async as JsonObject).ttl, TTL, JSON.stringify(ack));
  } finally {
    pair.lsBackend.ackTtl = undefined;
  }
  await pair.stopNode('hd-1', 'SIGKILL');
  const r = await respond(pair.lsPort, 'ls-1', request, { result: 'too late' });
  assert.deepEqual(r.json.result, { delivered: false, queued: true, caller: 'hd-1' }, r.text);

  const notices = (): JsonObject[] => pair.lsBackend.calls('undelivered').filter((m) => m.id === request);
  await waitFor(() => notices().length > 0, {
    timeoutMs: TTL * 1000 + STEP_MS,
    what: "the undelivered notice at ls-1's backend",
  });
  const params = notices()[0]!.params as JsonObject;
  assert.equal(params.request, request);
  assert.equal(params.caller, 'hd-1');
  const error = params.error as JsonObject;
  assert.equal((error.data as JsonObject).code, 'ERR_ASYNC_UNDELIVERED', JSON.stringify(params));
  assert.match(error.message as string, /hd-1/);
  await pair.drained('ls-1');
  assert.equal(notices().length, 1, 'the notice is handed over once');
  assert.equal(((await status(pair.lsPort, 'ls-1', request)).pending as JsonObject).state, 'expired');
});
