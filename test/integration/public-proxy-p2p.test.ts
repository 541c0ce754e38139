/**
 * Public proxy, internal port and P2P brokering, with real sockets (docs/protocol.md#p2p,
 * docs/protocol.md#token-framing): `requestConnection` calls `<to>._connectionRequest` before answering and
 * passes its errors through, the placeholder is freed on every failure path, two parties with the same token
 * are joined byte for byte, lone parties time out, and bad tokens (unknown, replayed, short, absent) close
 * the socket.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import {
  ACCEPT_TIMEOUT_S,
  ADVERTISED_ENDPOINT,
  callControl,
  clientInfo,
  connectTo,
  readExactly,
  startPublicProxy,
  untilClosed,
  type EpsAnswer,
  type EpsCall,
  type PublicHarness,
} from '../helpers/proxy-fixtures.js';
import { waitFor } from '../helpers/wait.js';

const BASE64_TOKEN = /^[A-Za-z0-9+/]{43}=$/;
const CALLER = clientInfo('hd-1');

type Target = 'connect' | 'silent' | { error: EpsAnswer } | 'drop' | 'hang';

describe('public proxy: P2P and the internal port', () => {
  let h: PublicHarness;
  /** What the stand-in for B does on `_connectionRequest`. */
  let target: Target = 'connect';
  const parties: net.Socket[] = [];

  const script = async (call: EpsCall) => {
    if (!call.method.endsWith('._connectionRequest')) return { result: {} };
    if (target === 'drop' || target === 'hang') return target;
    if (typeof target === 'object') return target.error;
    if (target === 'connect') {
      // B dials the proxy and presents the token before it answers, as a real callee does.
      const socket = await connectTo(h.internal);
      socket.write(Buffer.from(call.params.token as string, 'base64'));
      parties.push(socket);
      await waitFor(() => h.proxy.stats().pendingConnections === 0, {
        timeoutMs: 5_000,
        what: 'no pending connections',
      });
    }
    return { result: {} };
  };

  before(async () => {
    h = await startPublicProxy({ script });
  });
  after(() => h.stop());

  const requestConnection = (to = 'hd-2') =>
    callControl(h.api, 'requestConnection', { to, channel: 'grpc_server', _client: CALLER });

  const tablesEmpty = (): Promise<void> =>
    waitFor(
      () => {
        const s = h.proxy.stats();
        return s.p2pTokens === 0 && s.pendingConnections === 0 && s.tunnels === 0;
      },
      { timeoutMs: 5_000, what: 'empty token, connection and tunnel tables' },
    );

  it('brokers a connection: _connectionRequest first, then the token; the stream is joined verbatim', async () => {
    target = 'connect';
    const callsBefore = h.eps.calls.length;
    const reply = await requestConnection();
    assert.equal(reply.status, 200);
    const result = reply.body.result as { token: string; endpoint: string };
    assert.deepEqual(Object.keys(result).sort(), ['endpoint', 'token']);
    assert.match(result.token, BASE64_TOKEN);
    assert.equal(Buffer.from(result.token, 'base64').length, 32);
    assert.equal(result.endpoint, ADVERTISED_ENDPOINT);

    const call = h.eps.calls[callsBefore]!;
    assert.equal(call.method, 'hd-2._connectionRequest');
    assert.equal(call.id, '');
    assert.deepEqual(call.params, {
      endpoint: ADVERTISED_ENDPOINT,
      client: CALLER,
      channel: 'grpc_server',
      token: result.token,
    });

    const b = parties.shift()!;
    const a = await connectTo(h.internal);
    // Token and first payload in one segment: nothing beyond the 32 bytes is taken as token (item 3).
    a.write(Buffer.concat([Buffer.from(result.token, 'base64'), Buffer.from('client hello')]));
    assert.equal((await readExactly(b, 12)).toString(), 'client hello');
    b.write('server hello');
    assert.equal((await readExactly(a, 12)).toString(), 'server hello');
    assert.equal(h.proxy.stats().tunnels, 1);
    assert.equal(h.proxy.stats().p2pTokens, 0);

    // A replay of the used token is closed without a byte (item 4).
    const replay = await connectTo(h.internal);
    replay.write(Buffer.from(result.token, 'base64'));
    assert.equal((await untilClosed(replay)).length, 0);

    a.end();
    await once(b, 'end');
    b.end();
    await untilClosed(a);
    await tablesEmpty();
  });

  it('passes an error of the target through unchanged and frees the placeholder', async () => {
    target = {
      error: {
        error: { code: 403, message: "Permission denied for method '_connectionRequest'", data: { x: 1 } },
      },
    };
    const reply = await requestConnection();
    assert.equal(reply.status, 400);
    assert.deepEqual(reply.body.error, {
      code: 403,
      message: "Permission denied for method '_connectionRequest'",
      data: { x: 1 },
    });
    assert.equal(h.proxy.stats().p2pTokens, 0);
  });

  it('answers -32603 and frees the placeholder when the own EPS fails or does not answer in time', async () => {
    for (const failure of ['drop', 'hang'] as const) {
      target = failure;
      const reply = await requestConnection();
      assert.equal(reply.body.error && (reply.body.error as { code: number }).code, -32603, failure);
      assert.equal(h.proxy.stats().p2pTokens, 0, failure);
    }
  });

  it('closes a lone party after accept_timeout (item 25)', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    target = 'connect';
    const reply = await requestConnection(); // answered once B is parked, which re-arms the timeout
    assert.ok(reply.body.result);
    const b = parties.shift()!;
    t.mock.timers.tick(ACCEPT_TIMEOUT_S * 1000 - 1);
    assert.equal(h.proxy.stats().p2pTokens, 1, 'still parked just before accept_timeout');
    t.mock.timers.tick(1);
    assert.equal(h.proxy.stats().p2pTokens, 0, 'dropped at accept_timeout');
    assert.equal((await untilClosed(b)).length, 0);
    await tablesEmpty();
  });

  it('expires an unused placeholder after accept_timeout', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    target = 'silent';
    const reply = await requestConnection();
    const token = (reply.body.result as { token: string }).token;
    t.mock.timers.tick(ACCEPT_TIMEOUT_S * 1000 - 1);
    assert.equal(h.proxy.stats().p2pTokens, 1, 'live just before accept_timeout');
    t.mock.timers.tick(1);
    assert.equal(h.proxy.stats().p2pTokens, 0, 'expired at accept_timeout');
    await tablesEmpty();
    const late = await connectTo(h.internal);
    late.write(Buffer.from(token, 'base64'));
    assert.equal((await untilClosed(late)).length, 0);
  });

  it('pairs whichever party comes first with the second one', async () => {
    target = 'silent';
    const token = Buffer.from(((await requestConnection()).body.result as { token: string }).token, 'base64');
    const first = await connectTo(h.internal);
    first.write(token);
    await waitFor(() => h.proxy.stats().pendingConnections === 0, {
      timeoutMs: 5_000,
      what: 'no pending connections',
    });
    const second = await connectTo(h.internal);
    second.write(token);
    second.write('from the second');
    assert.equal((await readExactly(first, 15)).toString(), 'from the second');
    first.destroy();
    await untilClosed(second);
    await tablesEmpty();
  });

  const badTokens: [string, (s: net.Socket) => void][] = [
    ['an unknown token', (s) => s.write(randomBytes(32))],
    ['a token shorter than 32 bytes', (s) => s.end(randomBytes(20))],
    ['a token in several segments that never completes', (s) => s.write(randomBytes(31))],
    ['nothing at all', () => undefined],
  ];
  for (const [what, send] of badTokens) {
    it(`closes an internal connection presenting ${what}`, async () => {
      const socket = await connectTo(h.internal);
      send(socket);
      assert.equal((await untilClosed(socket)).length, 0);
      await tablesEmpty();
    });
  }

  it('accepts a token delivered in several segments', async () => {
    target = 'silent';
    const token = Buffer.from(((await requestConnection()).body.result as { token: string }).token, 'base64');
    const a = await connectTo(h.internal);
    a.write(token.subarray(0, 5));
    await new Promise((resolve) => setTimeout(resolve, 20)); // a separate TCP segment
    a.write(token.subarray(5));
    await waitFor(() => h.proxy.stats().pendingConnections === 0, {
      timeoutMs: 5_000,
      what: 'no pending connections',
    });
    assert.equal(h.proxy.stats().p2pTokens, 1, 'the party is parked on its token');
    a.destroy();
    await tablesEmpty();
  });
});
