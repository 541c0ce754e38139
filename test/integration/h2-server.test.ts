/**
 * Our gRPC server (own HTTP/2, src/grpc/h2) against a scripted client on real TLS: a unary call in one
 * write each way, flow control of large answers, and what a hostile or broken client can send.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AddressInfo } from 'node:net';
import type { GrpcServer } from '../../src/grpc/server.js';
import { frame } from '../../src/grpc/framing.js';
import { encodeHeaders } from '../../src/grpc/h2/hpack.js';
import { ErrorCode, Flag, FrameType, Setting } from '../../src/grpc/h2/codes.js';
import { pinnedEntries } from '../helpers/network.js';
import { ls1Server } from '../helpers/grpc-local.js';
import { H2Connection, type H2ConnectionOptions } from '../../src/grpc/h2/connection.js';
import { fakeClient, fakeClientOf, type FakePeer } from '../helpers/h2-fake-server.js';

const { DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE } = FrameType;
const { END_STREAM, END_HEADERS, ACK } = Flag;

/** The directory the main server identifies peers with. */
const entries = pinnedEntries();

let server: GrpcServer;
let port: number;
const big = Buffer.alloc(300_000, 0x42);

before(async () => {
  server = ls1Server(
    {
      maxMessageBytes: 1024 * 1024,
      maxConnectionBufferBytes: 2 * 1024 * 1024,
      handlers: {
        unary: {
          '/EPS/Size': async (payload) => Buffer.from(`size ${payload.length}`),
          '/EPS/Call': async (payload) =>
            payload.toString() === 'big' ? big : Buffer.concat([Buffer.from('re:'), payload]),
          '/EPS/Never': () => new Promise<Uint8Array>(() => undefined),
        },
        bidi: {
          '/EPS/Broken': () => {
            throw new Error('handler bug');
          },
        },
      },
    },
    entries, // the test of an unpinned certificate removes an entry
  );
  port = (await server.listen('127.0.0.1:0')).port;
});

after(async () => {
  await server.close();
});

function request(path = '/EPS/Call', extra: [string, string][] = []): Buffer {
  return encodeHeaders([
    [':method', 'POST'],
    [':scheme', 'https'],
    [':path', path],
    [':authority', 'ls-1'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
    ...extra,
  ]);
}

async function handshake(peer: FakePeer, settings: [Setting, number][] = []): Promise<void> {
  peer.settings(settings);
  const s = await peer.next((f) => f.type === SETTINGS && (f.flags & ACK) === 0);
  assert.ok(s.payload.length % 6 === 0);
  peer.send(SETTINGS, ACK, 0);
}

test('a unary call: headers, one message and trailers come back in order', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    peer.send(HEADERS, END_HEADERS, 1, request());
    peer.send(DATA, END_STREAM, 1, frame(Buffer.from('hi')));
    const r = await peer.response(1);
    assert.equal(r.headers[':status'], '200');
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.deepEqual(r.body, frame(Buffer.from('re:hi')));
    assert.equal(r.trailers['grpc-status'], '0');
  } finally {
    peer.socket.destroy();
  }
});

test('a large answer respects the client window and continues as WINDOW_UPDATEs arrive', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer, [[Setting.INITIAL_WINDOW_SIZE, 5000]]);
    peer.send(HEADERS, END_HEADERS, 1, request());
    peer.send(DATA, END_STREAM, 1, frame(Buffer.from('big')));
    await peer.next((f) => f.type === HEADERS && f.streamId === 1);
    let window = 5000;
    let connection = 65_535;
    const parts: Buffer[] = [];
    while (Buffer.concat(parts).length < big.length + 5) {
      const d = await peer.next((f) => f.type === DATA && f.streamId === 1);
      window -= d.payload.length;
      connection -= d.payload.length;
      assert.ok(window >= 0 && connection >= 0, 'the server respects both windows');
      parts.push(d.payload);
      peer.u32(WINDOW_UPDATE, 1, d.payload.length);
      peer.u32(WINDOW_UPDATE, 0, d.payload.length);
      window += d.payload.length;
      connection += d.payload.length;
    }
    assert.deepEqual(Buffer.concat(parts), frame(big));
    const t = await peer.next((f) => f.type === HEADERS && f.streamId === 1);
    assert.equal(t.flags & END_STREAM, END_STREAM);
    assert.equal(peer.decoder.decode(t.payload).headers['grpc-status'], '0');
  } finally {
    peer.socket.destroy();
  }
});

test('bad requests get a gRPC status or HTTP error and the connection keeps serving', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    // Unknown method.
    peer.send(HEADERS, END_HEADERS, 1, request('/EPS/Nope'));
    peer.send(DATA, END_STREAM, 1, frame(Buffer.from('x')));
    const unknown = await peer.response(1);
    assert.equal(unknown.headers['grpc-status'], '12');
    assert.match(unknown.headers['grpc-message'] ?? '', /unknown method/);
    // Not gRPC.
    peer.send(
      HEADERS,
      END_HEADERS | END_STREAM,
      3,
      encodeHeaders([
        [':method', 'GET'],
        [':path', '/'],
        [':scheme', 'https'],
      ]),
    );
    assert.equal((await peer.response(3)).headers[':status'], '415');
    // A message over the limit is refused from its length prefix, before it arrives.
    const header = Buffer.alloc(5);
    header.writeUInt32BE(2 * 1024 * 1024, 1);
    peer.send(HEADERS, END_HEADERS, 5, request());
    peer.send(DATA, 0, 5, header);
    const oversized = await peer.response(5);
    assert.equal(oversized.headers['grpc-status'], '8');
    assert.match(decodeURIComponent(oversized.headers['grpc-message'] ?? ''), /larger than max/);
    // Two messages in a unary call.
    peer.send(HEADERS, END_HEADERS, 7, request());
    peer.send(DATA, END_STREAM, 7, Buffer.concat([frame(Buffer.from('a')), frame(Buffer.from('b'))]));
    assert.equal((await peer.response(7)).headers['grpc-status'], '13');
    // Compressed message flag.
    peer.send(HEADERS, END_HEADERS, 9, request());
    peer.send(DATA, END_STREAM, 9, Buffer.from([1, 0, 0, 0, 1, 0x61]));
    assert.equal((await peer.response(9)).headers['grpc-status'], '12');
    // A handler that throws ends its call with INTERNAL, not the connection.
    peer.send(HEADERS, END_HEADERS, 11, request('/EPS/Broken'));
    const broken = await peer.response(11);
    assert.equal(broken.headers[':status'], '200');
    assert.equal(broken.trailers['grpc-status'], '13', 'as trailers: the response headers were out already');
    // Still serving.
    peer.send(HEADERS, END_HEADERS, 13, request());
    peer.send(DATA, END_STREAM, 13, frame(Buffer.from('ok')));
    assert.deepEqual((await peer.response(13)).body, frame(Buffer.from('re:ok')));
  } finally {
    peer.socket.destroy();
  }
});

test('a cancelled call (RST_STREAM from the client) frees the stream; the connection keeps serving', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    peer.send(HEADERS, END_HEADERS, 1, request('/EPS/Never'));
    peer.send(DATA, END_STREAM, 1, frame(Buffer.from('x')));
    peer.u32(RST_STREAM, 1, ErrorCode.CANCEL);
    peer.send(HEADERS, END_HEADERS, 3, request());
    peer.send(DATA, END_STREAM, 3, frame(Buffer.from('after')));
    assert.deepEqual((await peer.response(3)).body, frame(Buffer.from('re:after')));
  } finally {
    peer.socket.destroy();
  }
});

test('streams above MAX_CONCURRENT_STREAMS are refused with REFUSED_STREAM', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    for (let i = 0; i < 1000; i++) peer.send(HEADERS, END_HEADERS, 2 * i + 1, request('/EPS/Never'));
    peer.send(HEADERS, END_HEADERS, 2001, request('/EPS/Never'));
    const rst = await peer.next((f) => f.type === RST_STREAM);
    assert.equal(rst.streamId, 2001);
    assert.equal(rst.payload.readUInt32BE(0), ErrorCode.REFUSED_STREAM);
  } finally {
    peer.socket.destroy();
  }
});

test('protocol violations end the connection with GOAWAY and the right error code', async () => {
  const cases: [string, (p: FakePeer) => void, ErrorCode][] = [
    ['DATA on a stream never opened', (p) => p.send(DATA, 0, 7, Buffer.from('x')), ErrorCode.PROTOCOL_ERROR],
    [
      'a server-side (even) stream id',
      (p) => p.send(HEADERS, END_HEADERS, 2, request()),
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
  clock: { now: () => number; time: number };
  close: () => Promise<void>;
}> {
  const clock = { time: 1_700_000_000_000, now: (): number => clock.time };
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

test('rapid reset: more than 1000 opened-and-cancelled streams within a second end the connection', async () => {
  const { peer, clock, close } = await h2Server();
  try {
    let id = 1;
    const burst = (n: number): void => {
      for (let i = 0; i < n; i++, id += 2) {
        peer.send(HEADERS, END_HEADERS, id, request('/EPS/Never'));
        peer.u32(RST_STREAM, id, ErrorCode.CANCEL);
      }
    };
    burst(1000);
    await roundTrip(peer, 'second1');
    clock.time += 1000; // the next second: the count starts again
    burst(1000);
    await roundTrip(peer, 'second2');
    burst(1); // the 1001st of this second
    const goaway = await peer.next((f) => f.type === GOAWAY);
    assert.equal(goaway.payload.readUInt32BE(4), ErrorCode.ENHANCE_YOUR_CALM);
    assert.equal(goaway.payload.subarray(8).toString(), 'too many stream resets per second');
  } finally {
    await close();
  }
});

test('ping policy: PINGs closer than the minimum interval are strikes; one strike too many is too_many_pings', async () => {
  const { peer, clock, close } = await h2Server({ pingPolicy: { minIntervalMs: 15_000, maxStrikes: 2 } });
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
  } finally {
    await close();
  }
});

test('settings flood: a client that provokes acknowledgements but never reads them is disconnected', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    peer.socket.pause(); // never read the SETTINGS acknowledgements
    const settings = Buffer.from([0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]);
    const burst = Buffer.concat(Array.from({ length: 10_000 }, () => settings));
    // 30 MB of SETTINGS ask for 30 MB of ACKs: far more than the socket buffers and the 1 MiB allowance.
    for (let sent = 0; sent < 30 * 1024 * 1024 && !peer.socket.destroyed; sent += burst.length) {
      if (!peer.socket.write(burst)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            peer.socket.off('drain', done).off('close', done);
            resolve();
          };
          peer.socket.on('drain', done).on('close', done);
        });
      }
    }
    peer.socket.resume();
    const goaway = await peer.next((f) => f.type === GOAWAY, 30_000);
    assert.equal(goaway.payload.readUInt32BE(4), ErrorCode.ENHANCE_YOUR_CALM);
  } finally {
    peer.socket.destroy();
  }
});

/** DATA frames of at most 16 KiB (the server's MAX_FRAME_SIZE). */
function sendData(peer: FakePeer, streamId: number, data: Buffer, end: boolean): void {
  for (let pos = 0; pos < data.length; pos += 16_384) {
    const last = pos + 16_384 >= data.length;
    peer.send(DATA, last && end ? END_STREAM : 0, streamId, data.subarray(pos, pos + 16_384));
  }
}

test('unfinished messages are bounded per connection; calls within the bound still complete', async () => {
  const peer = await fakeClient(port);
  try {
    await handshake(peer);
    const message = frame(Buffer.alloc(1_000_000, 1));
    const head = message.subarray(0, 900_000);
    const tail = message.subarray(900_000);
    for (const id of [1, 3, 5]) {
      peer.send(HEADERS, END_HEADERS, id, request('/EPS/Size'));
      sendData(peer, id, head, false);
    }
    // 3 x 900 KB parked: the third stream goes over the 2 MiB budget and is refused.
    const refused = await peer.response(5);
    assert.equal(refused.headers['grpc-status'], '8');
    assert.match(decodeURIComponent(refused.headers['grpc-message'] ?? ''), /unfinished messages/);
    for (const id of [1, 3]) {
      sendData(peer, id, tail, true);
      assert.deepEqual((await peer.response(id)).body, frame(Buffer.from('size 1000000')));
    }
    // The budget was given back: the same again works.
    peer.send(HEADERS, END_HEADERS, 7, request('/EPS/Size'));
    sendData(peer, 7, message, true);
    assert.deepEqual((await peer.response(7)).body, frame(Buffer.from('size 1000000')));
  } finally {
    peer.socket.destroy();
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
    peer.send(HEADERS, END_HEADERS, 1, request());
    peer.send(DATA, END_STREAM, 1, frame(Buffer.from('after fuzz')));
    assert.deepEqual((await peer.response(1)).body, frame(Buffer.from('re:after fuzz')));
  } finally {
    peer.socket.destroy();
  }
});
