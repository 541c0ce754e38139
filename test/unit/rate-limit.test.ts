// Tests of the per-IP fixed-window connection rate limiter, alone and gating real net/TLS servers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import {
  ConnectionRateLimiter,
  RateLimitConfigError,
  attachRateLimit,
  type RateLimitRejection,
} from '../../src/net/rate-limit.js';
import { waitFor } from '../helpers/wait.js';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0); // a whole hour

describe('ConnectionRateLimiter', () => {
  it('allows `limit` connections per UTC-aligned second and resets in the next window', () => {
    const limiter = new ConnectionRateLimiter([{ type: 'second', limit: 3 }]);
    const at = T0 + 400;
    assert.deepEqual(
      [1, 2, 3, 4].map(() => limiter.allow('10.0.0.1', at)),
      [true, true, true, false],
    );
    assert.equal(limiter.allow('10.0.0.1', T0 + 999), false, 'same window');
    assert.equal(limiter.allow('10.0.0.2', T0 + 999), true, 'other IPs are independent');
    assert.equal(limiter.allow('10.0.0.1', T0 + 1000), true, 'next window starts fresh');
  });

  it('combines limits and does not charge rejected connections to earlier limits', () => {
    const limiter = new ConnectionRateLimiter([
      { type: 'minute', limit: 3 },
      { type: 'second', limit: 1 },
    ]);
    assert.equal(limiter.allow('1.2.3.4', T0), true);
    assert.equal(limiter.allow('1.2.3.4', T0 + 10), false);
    assert.equal(limiter.allow('1.2.3.4', T0 + 20), false);
    // The original would have exhausted the minute budget with the two rejections above.
    assert.equal(limiter.allow('1.2.3.4', T0 + 1000), true);
    assert.equal(limiter.allow('1.2.3.4', T0 + 2000), true);
    assert.equal(limiter.allow('1.2.3.4', T0 + 3000), false, 'minute budget of 3 used up');
    assert.equal(limiter.allow('1.2.3.4', T0 + 60_000), true, 'next minute');
  });

  it('keeps windows per limiter, so two listeners never disturb each other (fix of the shared window)', () => {
    const limits = [{ type: 'second' as const, limit: 1 }];
    const tlsSide = new ConnectionRateLimiter(limits);
    const internalSide = new ConnectionRateLimiter(limits);
    assert.equal(internalSide.allow('9.9.9.9', T0), true);
    assert.equal(internalSide.allow('9.9.9.9', T0 + 1), false);
    assert.equal(tlsSide.allow('9.9.9.9', T0 + 1500), true);
    assert.equal(internalSide.allow('9.9.9.9', T0 + 1600), true);
  });

  it('treats IPv4-mapped IPv6 as IPv4 and keeps IPv6 addresses apart', () => {
    const limiter = new ConnectionRateLimiter([{ type: 'hour', limit: 1 }]);
    assert.equal(limiter.allow('::ffff:127.0.0.1', T0), true);
    assert.equal(limiter.allow('127.0.0.1', T0), false);
    assert.equal(limiter.allow('2001:db8::1', T0), true);
    assert.equal(limiter.allow('2001:db8::2', T0), true);
  });

  it('drops IPs whose windows have passed and caps the table size', () => {
    const limiter = new ConnectionRateLimiter(
      [
        { type: 'second', limit: 5 },
        { type: 'minute', limit: 50 },
      ],
      { maxEntries: 3 },
    );
    for (let i = 0; i < 10; i++) limiter.allow(`10.1.0.${i}`, T0);
    assert.equal(limiter.size, 3, 'oldest evicted at the cap');
    limiter.allow('10.1.0.9', T0 + 1000);
    assert.equal(limiter.size, 3, 'still inside the minute: kept');
    limiter.allow('10.2.0.1', T0 + 60_000);
    assert.equal(limiter.size, 1, 'every earlier IP is past all its windows');
  });

  it('allows everything without limits and rejects invalid settings', () => {
    const open = new ConnectionRateLimiter([]);
    for (let i = 0; i < 100; i++) assert.equal(open.allow('1.1.1.1', T0), true);
    assert.equal(open.size, 0);
    assert.throws(() => new ConnectionRateLimiter([{ type: 'second', limit: 0 }]), RateLimitConfigError);
    assert.throws(() => new ConnectionRateLimiter([{ type: 'second', limit: 1.5 }]), RateLimitConfigError);
    const bogus = JSON.parse('[{"type":"day","limit":1}]') as { type: 'second'; limit: number }[];
    assert.throws(() => new ConnectionRateLimiter(bogus), RateLimitConfigError);
    assert.throws(() => new ConnectionRateLimiter([], { maxEntries: 0 }), RateLimitConfigError);
  });
});

/** Connects and reports whether the server kept the connection (sent its greeting) or closed it at once. */
async function tryConnect(port: number): Promise<'greeted' | 'closed'> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  const outcome = await new Promise<'greeted' | 'closed'>((resolve) => {
    socket.once('data', () => resolve('greeted'));
    socket.once('close', () => resolve('closed'));
  });
  socket.destroy();
  return outcome;
}

describe('attachRateLimit', () => {
  it('closes over-limit connections at accept, with a debug callback, on a real server', async (t) => {
    let clock = T0 + 100;
    const handled: net.Socket[] = [];
    const server = net.createServer((socket) => {
      handled.push(socket);
      socket.end('hello');
    });
    const rejections: RateLimitRejection[] = [];
    const limiter = new ConnectionRateLimiter([{ type: 'second', limit: 3 }]);
    attachRateLimit(server, limiter, { now: () => clock, onReject: (r) => rejections.push(r) });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const { port } = server.address() as net.AddressInfo;

    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) outcomes.push(await tryConnect(port));
    assert.deepEqual(outcomes, ['greeted', 'greeted', 'greeted', 'closed', 'closed', 'closed']);
    assert.equal(handled.length, 3, 'rejected sockets never reach the connection listener');
    assert.equal(rejections.length, 3);
    assert.ok(rejections.every((r) => r.ip === '127.0.0.1' && typeof r.port === 'number'));

    clock += 1000;
    assert.equal(await tryConnect(port), 'greeted', 'next second');
  });

  it('rejects before TLS on a tls.Server and can be detached', async (t) => {
    const server = tls.createServer();
    const secureAttempts: net.Socket[] = [];
    server.on('connection', (socket: net.Socket) => secureAttempts.push(socket));
    server.on('tlsClientError', () => undefined);
    const limiter = new ConnectionRateLimiter([{ type: 'minute', limit: 1 }]);
    const detach = attachRateLimit(server, limiter, { now: () => T0 });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const { port } = server.address() as net.AddressInfo;

    const first = net.connect({ host: '127.0.0.1', port });
    first.on('error', () => undefined);
    await once(first, 'connect');
    await waitFor(() => secureAttempts.length >= 1, {
      timeoutMs: 5_000,
      what: 'the first TLS attempt',
      intervalMs: 0,
    });

    const second = net.connect({ host: '127.0.0.1', port });
    second.on('error', () => undefined);
    await once(second, 'close');
    assert.equal(second.bytesRead, 0, 'nothing, not even a TLS alert, is sent');
    assert.equal(secureAttempts.length, 1, 'the TLS layer never saw the rejected socket');
    assert.equal(first.destroyed, false);

    detach();
    const third = net.connect({ host: '127.0.0.1', port });
    third.on('error', () => undefined);
    await once(third, 'connect');
    await waitFor(() => secureAttempts.length >= 2, {
      timeoutMs: 5_000,
      what: 'the second TLS attempt',
      intervalMs: 0,
    });
    assert.equal(secureAttempts.length, 2);
    first.destroy();
    third.destroy();
    for (const s of secureAttempts) s.destroy();
  });
});
