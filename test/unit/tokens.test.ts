// Tests of the pairing token table and of reading the 32 raw token bytes from real sockets.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  TOKEN_BYTES,
  TokenError,
  TokenTable,
  readToken,
  tokenKey,
  type TokenErrorCode,
} from '../../src/proxy/shared/tokens.js';
import { activeTimers, listen, pair, waitForBytesRead, type Listener } from '../helpers/net-pair.js';

function expectCode(fn: () => unknown, code: TokenErrorCode): void {
  assert.throws(fn, (error: unknown) => error instanceof TokenError && error.code === code);
}

async function expectRejects(promise: Promise<unknown>, code: TokenErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof TokenError && error.code === code);
}

describe('TokenTable', () => {
  let listener: Listener;
  before(async () => {
    listener = await listen();
  });
  after(async () => {
    await listener.close();
  });

  it('issues distinct 32-byte tokens with 44-character padded base64', () => {
    const table = new TokenTable<string>();
    const a = table.issue('a');
    const b = table.issue('b');
    assert.equal(a.token.length, TOKEN_BYTES);
    assert.match(a.base64, /^[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(a.base64, 'base64').equals(a.token), true);
    assert.notEqual(a.base64, b.base64);
    assert.equal(table.size, 2);
    table.close();
    assert.equal(table.size, 0);
  });

  it('pairs the first and the second party once (P2P), then reports a replay', async () => {
    const table = new TokenTable<{ to: string }>({ acceptTimeoutMs: 10_000 });
    const { token, base64 } = table.issue({ to: 'hd-2' });
    const first = await pair(listener);
    const second = await pair(listener);
    assert.deepEqual(table.arrive(token, first.server), { paired: false, meta: { to: 'hd-2' } });
    const arrival = table.arrive(base64, second.server);
    assert.equal(arrival.paired, true);
    assert.ok(arrival.paired && arrival.peer === first.server);
    assert.equal(table.size, 0);
    expectCode(() => table.arrive(token, second.server), 'replayed');
    expectCode(() => table.claim(token), 'replayed');
    assert.equal(first.server.destroyed, false, 'a claimed socket belongs to the caller');
    first.client.destroy();
    second.client.destroy();
    table.close();
  });

  it('hands the parked public client to the claimer (normal mode)', async () => {
    const table = new TokenTable<{ hello: Buffer }>();
    const client = await pair(listener);
    const issued = table.issue({ hello: Buffer.from('hello') }, client.server);
    const claimed = table.claim(issued.token);
    assert.equal(claimed.socket, client.server);
    assert.equal(claimed.meta.hello.toString(), 'hello');
    client.server.destroy();
    await once(client.server, 'close');
    assert.equal(table.size, 0);
    client.client.destroy();
  });

  it('rejects unknown, malformed and doubly parked tokens', async () => {
    const table = new TokenTable<null>();
    expectCode(() => table.claim(Buffer.alloc(32, 1)), 'unknown');
    expectCode(() => table.claim(Buffer.alloc(31)), 'invalid');
    expectCode(() => table.claim('c2hvcnQ='), 'invalid');
    assert.equal(tokenKey('A'.repeat(43) + '='), 'A'.repeat(43) + '=');
    expectCode(() => tokenKey('A'.repeat(43)), 'invalid'); // padding required
    expectCode(() => tokenKey('A'.repeat(42) + 'B='), 'invalid'); // non-canonical
    const { token } = table.issue(null);
    const a = await pair(listener);
    const b = await pair(listener);
    table.park(token, a.server);
    expectCode(() => table.park(token, b.server), 'already-parked');
    table.close();
    await once(a.server, 'close');
    a.client.destroy();
    b.client.destroy();
  });

  it('expires unclaimed tokens after accept_timeout, closing the parked socket and freeing the entry', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const drops: string[] = [];
    const table = new TokenTable<string>({
      acceptTimeoutMs: 10_000,
      onDrop: (meta, reason) => drops.push(`${meta}:${reason}`),
    });
    const lone = await pair(listener);
    const { token } = table.issue('p2p');
    t.mock.timers.tick(4_000);
    table.park(token, lone.server); // parking re-arms the full timeout
    const issuedOnly = table.issue('placeholder');
    t.mock.timers.tick(9_999);
    assert.equal(table.size, 2, 'both live just before their timeout');
    assert.equal(lone.server.destroyed, false);
    t.mock.timers.tick(1);
    assert.equal(table.size, 0);
    assert.equal(lone.server.destroyed, true);
    await once(lone.client, 'close');
    assert.deepEqual(drops.sort(), ['p2p:expired', 'placeholder:expired']);
    expectCode(() => table.claim(token), 'expired');
    expectCode(() => table.claim(issuedOnly.token), 'expired');
  });

  it('frees the entry when the parked socket goes away, and on revoke', async () => {
    const drops: string[] = [];
    const table = new TokenTable<string>({ onDrop: (meta, reason) => drops.push(`${meta}:${reason}`) });
    const gone = await pair(listener);
    const first = table.issue('first', gone.server);
    gone.server.destroy();
    await once(gone.server, 'close');
    assert.equal(table.size, 0);
    expectCode(() => table.claim(first.token), 'expired');

    const parked = await pair(listener);
    const second = table.issue('second', parked.server);
    assert.equal(table.revoke(second.base64), true);
    assert.equal(table.revoke(second.base64), false);
    await once(parked.client, 'close');
    assert.equal(table.size, 0);
    assert.deepEqual(drops, ['first:abandoned', 'second:revoked']);
    gone.client.destroy();
  });

  it('refuses new tokens at maxEntries with a clear error and leaves no timers after claims', () => {
    const timersBefore = activeTimers();
    const table = new TokenTable<number>({ maxEntries: 2 });
    const a = table.issue(1);
    table.issue(2);
    assert.throws(
      () => table.issue(3),
      (error: unknown) =>
        error instanceof TokenError && error.code === 'table-full' && /full/.test(error.message),
    );
    table.claim(a.token);
    table.issue(3);
    assert.equal(table.size, 2);
    table.close();
    assert.equal(activeTimers(), timersBefore);
  });
});

describe('readToken', () => {
  let listener: Listener;
  before(async () => {
    listener = await listen();
  });
  after(async () => {
    await listener.close();
  });
  const token = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 100));

  it('reads a token delivered in several segments and clears its deadline', async () => {
    const { client, server } = await pair(listener, { noDelay: true });
    const timersBefore = activeTimers();
    const reading = readToken(server, 5_000);
    for (const [from, to] of [
      [0, 1],
      [1, 20],
      [20, 32],
    ] as const) {
      client.write(token.subarray(from, to));
      await waitForBytesRead(server, to);
    }
    assert.ok((await reading).equals(token));
    assert.equal(activeTimers(), timersBefore);
    assert.equal(server.listenerCount('readable'), 0);
    client.destroy();
  });

  it('keeps bytes that follow the token in the same segment for the splice', async () => {
    const { client, server } = await pair(listener);
    const reading = readToken(server);
    client.write(Buffer.concat([token, Buffer.from('payload after token')]));
    assert.ok((await reading).equals(token));
    const rest: Buffer[] = [];
    server.on('data', (chunk: Buffer) => rest.push(chunk));
    client.end();
    await once(server, 'end');
    assert.equal(Buffer.concat(rest).toString(), 'payload after token');
  });

  it('fails with timeout when nothing arrives within the deadline, leaving the socket open', async (t) => {
    const silent = await pair(listener);
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let settled = false;
    const reading = readToken(silent.server, 5_000).finally(() => (settled = true));
    t.mock.timers.tick(4_999);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'still waiting just before the deadline');
    t.mock.timers.tick(1);
    await expectRejects(reading, 'timeout');
    assert.equal(silent.server.destroyed, false);
    silent.client.destroy();
  });

  it('fails with short when the connection closes early or is reset', async () => {
    const early = await pair(listener);
    const reading = readToken(early.server);
    early.client.end(token.subarray(0, 10));
    await expectRejects(reading, 'short');

    const reset = await pair(listener);
    const reading2 = readToken(reset.server);
    reset.client.resetAndDestroy();
    await expectRejects(reading2, 'short');
  });
});
