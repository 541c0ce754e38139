/**
 * A stopping public proxy (issue 11): the drain notice through its own EPS (drain-notice.ts) and the
 * drain of its tunnels (TunnelRegistry.drain): tunnels whose callee was told may end by themselves until
 * the longer bound, the others are cut at the short one. In-memory streams on a manual clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { TunnelRegistry } from '../../src/proxy/shared/tunnels.js';
import { noticeDrain } from '../../src/proxy/public/drain-notice.js';
import type { EpsCaller } from '../../src/proxy/shared/eps-link.js';
import type { JsonRpcReply } from '../../src/jsonrpc/client.js';
import type { JsonObject } from '../../src/core/json.js';
import { Deadline } from '../../src/core/deadline.js';
import { ManualClock } from '../helpers/manual-clock.js';

/** One side of a tunnel: takes every write, never reads anything. */
function end(): Duplex {
  return new Duplex({ read: () => undefined, write: (_chunk, _enc, done) => done() });
}

function tunnel(registry: TunnelRegistry, party?: string): { a: Duplex; b: Duplex; done: Promise<unknown> } {
  const a = end();
  const b = end();
  return { a, b, done: registry.splice(a, b, 'p2p', { party }) };
}

/** Lets the streams' close events run (they come on the next ticks). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('a told tunnel outlives the short bound and ends by itself; an untold one is cut at it', async () => {
  const clock = new ManualClock();
  const registry = new TunnelRegistry();
  const told = tunnel(registry, 'hd-2');
  const untold = tunnel(registry, 'op-2');
  const normal = tunnel(registry);
  assert.deepEqual([...registry.parties()].sort(), ['hd-2', 'op-2']);
  let drained = false;
  const drain = registry
    .drain(new Set(['hd-2']), Deadline.after(1000, clock), Deadline.after(5000, clock))
    .then(() => (drained = true));
  await clock.advance(999);
  assert.equal(untold.a.destroyed || normal.a.destroyed, false, 'nothing cut before the short bound');
  await clock.advance(1);
  await settle();
  assert.equal(untold.a.destroyed && untold.b.destroyed, true, 'the untold P2P tunnel was cut');
  assert.equal(normal.a.destroyed && normal.b.destroyed, true, 'a normal-mode tunnel too');
  assert.equal(told.a.destroyed, false, 'the told tunnel still relays');
  assert.equal(registry.size, 1);
  await clock.advance(3000);
  assert.equal(drained, false, 'the drain waits for the told tunnel');
  // The callee's GOAWAY ended its connection: the tunnel closes by itself.
  told.a.destroy();
  told.b.destroy();
  await drain;
  assert.equal(registry.size, 0);
  assert.equal(clock.pending, 0, 'no timer left behind');
});

test('a told tunnel that does not end is cut at the longer bound', async () => {
  const clock = new ManualClock();
  const registry = new TunnelRegistry();
  const told = tunnel(registry, 'hd-2');
  let drained = false;
  const drain = registry
    .drain(new Set(['hd-2']), Deadline.after(1000, clock), Deadline.after(5000, clock))
    .then(() => (drained = true));
  await clock.advance(4999);
  assert.equal(told.a.destroyed, false);
  await clock.advance(1);
  await drain;
  assert.equal(drained, true);
  assert.equal(told.a.destroyed && told.b.destroyed, true);
  await told.done;
  assert.equal(registry.size, 0);
});

test('no tunnel: the drain resolves at once', async () => {
  const clock = new ManualClock();
  await new TunnelRegistry().drain(new Set(), Deadline.after(1000, clock), Deadline.after(5000, clock));
  assert.equal(clock.pending, 0);
});

/** An own EPS that records the calls and answers with `reply` (or never, for undefined). */
function eps(reply: JsonRpcReply | Error | undefined): EpsCaller & { calls: [string, JsonObject][] } {
  const calls: [string, JsonObject][] = [];
  return {
    calls,
    call: (method, params) => {
      calls.push([method, params]);
      if (reply === undefined) return new Promise(() => undefined);
      return reply instanceof Error ? Promise.reject(reply) : Promise.resolve(reply);
    },
    close: () => undefined,
  };
}

const own = { name: 'public-proxy-1.ga', internal_endpoint: 'localhost:9999' };

test('the notice asks the own node with the internal endpoint; the answer names who was told', async () => {
  const link = eps({ id: '1', result: { notified: ['hd-2', 'hd-1', 7] } });
  const told = await noticeDrain(link, own, new Set(['hd-2']), Deadline.after(1000, new ManualClock()));
  assert.deepEqual(link.calls, [['public-proxy-1.ga._proxyDraining', { endpoint: 'localhost:9999' }]]);
  assert.deepEqual([...told], ['hd-2', 'hd-1'], 'only names are taken from the answer');
});

test('no P2P tunnel: no notice at all', async () => {
  const link = eps({ id: '1', result: { notified: [] } });
  const told = await noticeDrain(link, own, new Set(), Deadline.after(1000, new ManualClock()));
  assert.equal(told.size, 0);
  assert.equal(link.calls.length, 0);
});

test('an original node (error answer) or an unreachable one: nobody was told', async () => {
  const clock = new ManualClock();
  const refused = eps({ id: '1', error: { code: -32601, message: 'method not found' } });
  assert.equal((await noticeDrain(refused, own, new Set(['hd-2']), Deadline.after(1000, clock))).size, 0);
  const down = eps(new Error('connect ECONNREFUSED'));
  assert.equal((await noticeDrain(down, own, new Set(['hd-2']), Deadline.after(1000, clock))).size, 0);
});

test('a node that does not answer: nobody was told, once the bound passed', async () => {
  const clock = new ManualClock();
  const outcome: { told: Set<string> | undefined } = { told: undefined };
  const notice = noticeDrain(eps(undefined), own, new Set(['hd-2']), Deadline.after(1000, clock)).then(
    (t) => (outcome.told = t),
  );
  await clock.advance(999);
  assert.equal(outcome.told, undefined);
  await clock.advance(1);
  await notice;
  assert.deepEqual(outcome.told, new Set());
});
