/**
 * A full outbox between real eps processes (docs/protocol.md#store-and-forward, SECURITY.md limits): ls-1
 * is down, hd-1 may keep 3 messages per peer. The first 3 marked requests are queued and acknowledged;
 * the 4th gets ERR_ASYNC_FULL at once and leaves no trace; when ls-1 starts, each queued one reaches its
 * backend once and the refused one never. Then hd-1 awaits 3 answers of ls-1, its bound: a 5th marked
 * request is refused before it is sent (ERR_ASYNC_FULL, nothing recorded on either side).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../src/core/json.js';
import { AsyncPair } from '../helpers/async-pair.js';
import { gateway, rpc, status } from '../helpers/async-flow.js';
import { metricsText } from '../helpers/network.js';

const BOUND = 3;
let pair: AsyncPair;

before(async () => {
  pair = await AsyncPair.start({ running: ['hd-1'], async: { 'hd-1': { max_entries_per_peer: BOUND } } });
});

after(async () => {
  await pair?.close();
});

test('the bound is hit: a clear error for the next request, nothing acknowledged is dropped', async () => {
  const ids = Array.from({ length: BOUND }, (_, i) => `full-${i}`);
  for (const id of ids) {
    const queued = await pair.marked('ls-1.locate', id);
    assert.equal(((queued.result as JsonObject)?._async as JsonObject)?.queued, true, JSON.stringify(queued));
  }
  const reply = await gateway(
    pair.hdPort,
    'hd-1',
    rpc('ls-1.locate', { person: 'x', _async: { ttl: 120 } }, 'full-x'),
  );
  const refused = reply.json;
  const error = refused.error as JsonObject;
  assert.equal((error?.data as JsonObject)?.code, 'ERR_ASYNC_FULL', JSON.stringify(refused));
  assert.equal(error.code, 503);
  assert.match(error.message as string, /table is full for ls-1 \(3 of 3 entries/);
  assert.deepEqual(await status(pair.hdPort, 'hd-1', 'ls-1.locate(full-x)'), {
    id: 'ls-1.locate(full-x)',
    pending: null,
    awaited: null,
    outbox: null,
  });
  assert.match(await metricsText(pair.metricsPort), /eps_async_outbox_messages\{peer="ls-1"\} 3\n/);

  await pair.startNode('ls-1');
  await pair.drained('hd-1');
  for (const id of ids) assert.equal(pair.atLs(`ls-1.locate(${id})`).length, 1, `${id} delivered once`);
  assert.equal(pair.atLs('ls-1.locate(full-x)').length, 0);

  // Now the awaited table is full for ls-1: a marked request is refused before it is sent, so that
  // ls-1 never holds (and its backend never works on) a request whose acknowledgement hd-1 cannot keep.
  const noRoom = await gateway(
    pair.hdPort,
    'hd-1',
    rpc('ls-1.locate', { person: 'y', _async: { ttl: 120 } }, 'full-y'),
  );
  const noRoomError = noRoom.json.error as JsonObject;
  assert.equal((noRoomError?.data as JsonObject)?.code, 'ERR_ASYNC_FULL', noRoom.text);
  assert.match(noRoomError.message as string, /awaited table is full for ls-1/);
  assert.equal(pair.atLs('ls-1.locate(full-y)').length, 0, 'nothing reached the callee');
  assert.equal((await status(pair.lsPort, 'ls-1', 'ls-1.locate(full-y)')).pending, null);
});
