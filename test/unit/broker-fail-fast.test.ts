/**
 * Which calls may wait for an unreachable peer's return (channels/safe-retry.ts): the broker hands a
 * channel `failFast` for what the outbox keeps instead — a request our application marked asynchronous,
 * and every send of the outbox — and not for an ordinary call. A fake channel that cannot reach the
 * callee records the scopes it got; the marked request is queued and acknowledged at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsyncCalls } from '../../src/async/async-calls.js';
import { Broker } from '../../src/broker/broker.js';
import type { Channel } from '../../src/broker/channel.js';
import { unboundedScope, type CallScope } from '../../src/core/cancellation.js';
import { newEntry } from '../../src/core/directory-entry.js';
import { settings } from '../helpers/async-fake-host.js';
import { fixedDirectory } from '../helpers/fixed-directory.js';
import { ManualClock } from '../helpers/manual-clock.js';

test('asynchronous calls and outbox sends fail fast; an ordinary call may wait for the peer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'eps-failfast-'));
  const directory = fixedDirectory([newEntry('hd-1'), newEntry('ls-1')]);
  const calls = new AsyncCalls('hd-1', settings(dir), new ManualClock());
  const broker = new Broker('hd-1', directory, calls);
  const seen: CallScope[] = [];
  const unreachable: Channel = {
    type: 'grpc_client',
    open: async () => undefined,
    close: async () => undefined,
    canDeliverTo: (address) => address.operator === 'ls-1',
    deliver: async (_request, _address, scope) => {
      seen.push(scope);
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    },
  };
  broker.register(unreachable);
  await calls.open();
  t.after(async () => {
    await calls.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const plain = await broker.deliver(
    { method: 'ls-1.lookup', id: 'ls-1.lookup(1)', params: { name: 'x' } },
    { name: 'hd-1' },
    unboundedScope(),
  );
  assert.match(plain?.error?.message ?? '', /ECONNREFUSED/);
  assert.notEqual(seen.at(-1)?.failFast, true, 'an ordinary call may wait');

  const marked = await broker.deliver(
    { method: 'ls-1.lookup', id: 'ls-1.lookup(2)', params: { name: 'x', _async: { ttl: 60 } } },
    { name: 'hd-1' },
    unboundedScope(),
  );
  assert.equal(seen.at(-1)?.failFast, true, 'a marked request does not wait: the outbox keeps it');
  assert.equal((marked?.result as { _async?: { queued?: boolean } })._async?.queued, true);

  const delivery = await broker.send(
    { method: 'ls-1.lookup', id: 'ls-1.lookup(3)', params: { name: 'x' } },
    unboundedScope(),
  );
  assert.equal(seen.at(-1)?.failFast, true, 'a send of the outbox does not wait');
  assert.equal(delivery.unreachable, true);
});
