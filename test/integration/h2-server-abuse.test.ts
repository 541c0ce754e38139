/**
 * Our gRPC server (own HTTP/2, src/grpc/h2) against hostile or broken clients on real TLS: protocol
 * violations, peers that are not HTTP/2 or not pinned, rapid reset, ping and settings floods, random frames.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AddressInfo } from 'node:net';
import type { GrpcServer } from '../../src/grpc/server.js';
import { frame } from '../../src/grpc/framing.js';
import { ErrorCode, Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { RESET_BURST, RESET_REFILL_PER_SECOND, UNPRODUCTIVE_FRAME_BURST } from '../../src/grpc/h2/limits.js';
import { assertNothingSent, clientHandshake, duplexServer, goaway } from '../helpers/h2-duplex.js';
import { waitFor } from '../helpers/wait.js';
import { metricValue } from '../helpers/metric-value.js';
import { pinnedEntries } from '../helpers/network.js';
import { H2Connection, type H2ConnectionOptions } from '../../src/grpc/h2/connection.js';
import { fakeClient, fakeClientOf, type FakePeer } from '../helpers/h2-fake-server.js';
import { grpcRequest, handshake, startScriptedServer } from '../helpers/h2-grpc-server.js';
import { systemClock, type Clock } from '../../src/core/clock.js';

const { DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE } = FrameType;
const { END_STREAM, END_HEADERS, ACK } = Flag;

/** The directory the server identifies peers with (the test of an unpinned certificate removes an entry). */
const entries = pinnedEntries();

let server: GrpcServer;
let port: number;

before(async () => {
  ({ server, port } = await startScriptedServer(entries));
});

after(async () => {
  await server.close();
});

test('protocol violations end the connection with GOAWAY and the right error code', async () => {
  const cases: [string, (p: FakePeer) => void, ErrorCode][] = [
    ['DATA on a stream never opened', (p) => p.send(DATA, 0, 7, Buffer.from('x')), ErrorCode.PROTOCOL_ERROR],
    [
      'a server-side (even) stream id',
      (p) => p.send(HEADERS, END_HEADERS, 2, grpcRequest()),
      ErrorCode.PROTOCOL_ERROR,
    ],
    [
      'an undecodable header block',
      (p) => p.send(HEADERS, END_HEADERS, 1, Buffer.from([0xff, 0xff, 0x7f])),
      ErrorCode.COMPRESSION_ERROR,
    ],
    [
      'a frame above MAX_FRAME_SIZE',
      (p) => p.send(DATA, 0, 1, Buffer.alloc(17_000)),
      ErrorCode.FRAME_SIZE_ERROR,
    ],
    ['a window update of 0 on the connection', (p) => p.u32(WINDOW_UPDATE, 0, 0), ErrorCode.PROTOCOL_ERROR],
  ];
  for (const [what, misbehave, code] of cases) {
    const peer = await fakeClient(port);
    try {
      await handshake(peer);
      misbehave(peer);
      const goaway = await peer.next((f) => f.type === GOAWAY);
      assert.equal(goaway.payload.readUInt32BE(4), code, what);
    } finally {
      peer.socket.destroy();
    }
  }
});

test('a client that does not speak HTTP/2 is disconnected', async () => {
  const peer = await fakeClient(port);
  peer.socket.write('GET / HTTP/1.1\r\nHost: ls-1\r\n\r\n');
  await assert.rejects(
    peer.next(() => false, 5000),
    /connection closed/,
  );
});

test('a client certificate that is not pinned is disconnected before any call', async () => {
  const address = server.server.address() as AddressInfo;
  const peer = await fakeClient(address.port, 'op-1');
  entries.delete('op-1');
  const unpinned = await fakeClient(address.port, 'op-1');
  await assert.rejects(
    unpinned.next(() => false, 5000),
    /connection closed/,
  );
  peer.socket.destroy();
});

/** A bare HTTP/2 server connection (no gRPC server) on a clock the test sets, and a scripted client. */
async function h2Server(options: H2ConnectionOptions = {}): Promise<{
  peer: FakePeer;
  clock: Clock & { time: number };
  close: () => Promise<void>;
}> {
  // Only now() is the test's; timers (none fire in these tests) stay the system's.
  const clock = { ...systemClock, time: 1_700_000_000_000, now: (): number => clock.time };
  const { peer, close } = await fakeClientOf(
    (socket) => new H2Connection(socket, 'server', { clock, ...options }),
  );
  await handshake(peer);
  return { peer, clock, close };
}

/** A PING answered: the connection has read every frame sent before it. */
async function roundTrip(peer: FakePeer, tag: string): Promise<void> {
  peer.send(PING, 0, 0, Buffer.from(tag.padEnd(8).slice(0, 8)));
  const ack = await peer.next((f) => (f.type === PING && (f.flags & ACK) === ACK) || f.type === GOAWAY);
  assert.equal(ack.type, PING, `GOAWAY instead of the answer to ${tag}`);
}

/** Opens and cancels `n` streams from `next.id` on (odd ids, as a client). */
function resetStreams(peer: FakePeer, next: { id: number }, n: number): void {
  for (let i = 0; i < n; i++, next.id += 2) {
    peer.send(HEADERS, END_HEADERS, next.id, grpcRequest('/EPS/Never'));
    peer.u32(RST_STREAM, next.id, ErrorCode.CANCEL);
  }
}

test('rapid reset: a burst of 1000 is allowed, then more than 33 per second end the connection', async () => {
  const { peer, clock, close } = await h2Server();
  try {
    const next = { id: 1 };
    resetStreams(peer, next, RESET_BURST);
    await roundTrip(peer, 'burst');
    clock.time += 1000; // one second refills 33, not a whole new allowance
    resetStreams(peer, next, RESET_REFILL_PER_SECOND);
    await roundTrip(peer, 'refill');
    resetStreams(peer, next, 1); // above the sustained rate
    const goaway = await peer.next((f) => f.type === GOAWAY);
    assert.equal(goaway.payload.readUInt32BE(4), ErrorCode.ENHANCE_YOUR_CALM);
    assert.equal(goaway.payload.subarray(8).toString(), 'too many stream resets per second');
  } finally {
    await close();
  }
});

test('rapid reset: a steady rate below the refill never ends the connection', async () => {
  const { peer, clock, close } = await h2Server();
  try {
    const next = { id: 1 };
    resetStreams(peer, next, RESET_BURST);
    await roundTrip(peer, 'burst');
    for (let second = 1; second <= 60; second++) {
      clock.time += 1000;
      resetStreams(peer, next, RESET_REFILL_PER_SECOND - 1);
      await roundTrip(peer, `s${second}`);
    }
  } finally {
    await close();
  }
});
test('ping policy: PINGs closer than the minimum interval are strikes; one strike too many is too_many_pings', async () => {
  const { peer, clock, close } = await h2Server({ pingPolicy: { minIntervalMs: 15_000, maxStrikes: 2 } });
  const floods = await metricValue('rate_limit_hits_total', { limit: 'h2_flood' });
  try {
    await roundTrip(peer, 'first'); // no strike: nothing to compare with
    clock.time += 15_000;
    await roundTrip(peer, 'in time'); // no strike: a full interval later
    clock.time += 14_999;
    await roundTrip(peer, 'strike1');
    await roundTrip(peer, 'strike2');
    clock.time += 15_000;
    await roundTrip(peer, 'in time'); // not a strike, but does not forgive the earlier ones either
    peer.send(PING, 0, 0, Buffer.from('strike3!'));
    const calm = await peer.next((f) => f.type === GOAWAY);
    assert.equal(calm.payload.readUInt32BE(4), ErrorCode.ENHANCE_YOUR_CALM);
    assert.equal(calm.payload.subarray(8).toString(), 'too_many_pings');
    assert.equal(await metricValue('rate_limit_hits_total', { limit: 'h2_flood' }), floods + 1);
  } finally {
    await close();
  }
});

test('settings flood: SETTINGS beyond the unproductive-frame burst end the connection, acknowledgements read or not', async () => {
  // In memory on a manual clock that does not move: the token bucket never refills, so the limit is exact.
  for (const reading of [true, false]) {
    const { conn, peer, output, close } = duplexServer();
    try {
      await clientHandshake(peer); // its SETTINGS is the first, which is free
      for (let i = 0; i < UNPRODUCTIVE_FRAME_BURST; i++) peer.send(SETTINGS, 0, 0);
      await assertNothingSent(peer, [GOAWAY], `the burst (reading: ${reading})`);
      if (!reading) output.hold(); // from here on, not one acknowledgement is read
      peer.send(SETTINGS, 0, 0);
      if (reading) {
        const away = await goaway(peer);
        assert.equal(away.code, ErrorCode.ENHANCE_YOUR_CALM);
        assert.equal(away.debug, 'too many SETTINGS frames');
      }
      await waitFor(() => conn.closed, { timeoutMs: 5000, what: 'the connection to end' });
    } finally {
      close();
    }
  }
});

test('fuzz: random frames from a client never crash the server; it keeps serving other connections', async () => {
  const frameArb = fc.record({
    type: fc.integer({ min: 0, max: 10 }),
    flags: fc.integer({ min: 0, max: 255 }),
    streamId: fc.constantFrom(0, 1, 2, 3, 5, 7, 0x7fffffff),
    payload: fc.uint8Array({ maxLength: 64 }),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(frameArb, { minLength: 1, maxLength: 25 }), async (frames) => {
      const peer = await fakeClient(port);
      try {
        await handshake(peer);
        for (const f of frames) peer.send(f.type, f.flags, f.streamId, Buffer.from(f.payload));
        // Whatever the server makes of it (ignore, reset streams, GOAWAY), it must stay up: a PING is
        // answered, or the connection was closed by a GOAWAY.
        peer.send(PING, 0, 0, Buffer.from('stillup?'));
        await peer
          .next((f) => (f.type === PING && (f.flags & ACK) === ACK) || f.type === GOAWAY, 5000)
          .catch((e: Error) => assert.match(e.message, /connection closed/));
      } finally {
        peer.socket.destroy();
      }
    }),
    { numRuns: 40 },
  );
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    peer.send(HEADERS, END_HEADERS, 1, grpcRequest());
    peer.send(DATA, END_STREAM, 1, frame(Buffer.from('after fuzz')));
    assert.deepEqual((await peer.response(1)).body, frame(Buffer.from('re:after fuzz')));
  } finally {
    peer.socket.destroy();
  }
});
