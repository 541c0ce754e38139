/**
 * Flood budget (SECURITY.md#flood-budget), connection rows, against a real server process (gRPC port,
 * mutual TLS) whose handshake timeout and idle limit are shortened to one second:
 * - 10,000 connections that never finish the TLS handshake (silence, half a ClientHello, a ClientHello
 *   trickled a byte at a time), opened with bounded concurrency from 40 loopback addresses: each is
 *   closed by the server, at the handshake timeout or at once by the caps on connections still
 *   handshaking; the server's settled RSS ends near where it started; a bystander keeps being answered.
 * - idle-connection flood: pinned clients that finish the handshake and never call are closed at the idle
 *   limit with GOAWAY NO_ERROR.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ErrorCode, FrameType } from '../../src/grpc/h2/codes.js';
import { MAX_HANDSHAKING_CONNECTIONS } from '../../src/net/handshake-guard.js';
import { fakeClient, type FakePeer } from '../helpers/h2-fake-server.js';
import { handshake } from '../helpers/h2-grpc-server.js';
import { halfClientHello } from '../helpers/handshake-probe.js';
import { withDeadline } from '../helpers/wait.js';
import { bystander, describeRss, type AttackServer, startAttackServer } from './attack-server.js';

/** The server's handshake timeout and idle limit in these tests (the defaults are 10 s and 60 s). */
const LIMIT_MS = 1000;
/** The server closes an admitted connection at most this long after the limit (a busy loop is late). */
const CLOSE_SLACK_MS = 3000;
/**
 * The attacker gives up on a connection (counts it as left open) this long after dialling it: generous,
 * since on a loaded machine the connect itself and the attacker's own event loop may be slow; the
 * server's side (its own open times) is what shows the deadline.
 */
const GIVE_UP_MS = 15_000;
/**
 * A timer may fire this much before LIMIT_MS as measured from the 'connection' event: libuv computes its
 * due time from the loop's time, taken when the (busy) loop turn began.
 */
const TIMER_SLACK_MS = 200;
const FLOOD_CONNECTIONS = 10_000;
/** Connections open at once on the attacker's side: above the total cap, far below `ulimit -n`. */
const FLOOD_CONCURRENCY = 1500;
/** Workers 0..N-1 all use one address: more than the per-address cap of handshaking connections. */
const CROWDED_WORKERS = 200;
const SPREAD_ADDRESSES = 40;
/** Settled RSS growth allowed after the whole flood. */
const FLOOD_RSS_LIMIT_MIB = 48;
/** The idle limit in the idle flood: the bystander's calls must never be that far apart. */
const IDLE_LIMIT_MS = 2000;
const IDLE_CONNECTIONS = 100;
/** Idle connections set up at once (real mutual-TLS handshakes: CPU on both sides). */
const IDLE_BATCH = 10;
/** 100 finished mutual-TLS handshakes: +5.8 to +17.6 MiB settled, measured under load 15. */
const IDLE_RSS_LIMIT_MIB = 24;

/** Handshake timeout LIMIT_MS (for the handshake flood). */
let server: AttackServer;
/** Idle limit IDLE_LIMIT_MS (for the idle flood; its real handshakes may take longer than LIMIT_MS under load). */
let idleServer: AttackServer;

before(async () => {
  [server, idleServer] = await Promise.all([
    startAttackServer({ keepalive: { handshakeTimeoutMs: LIMIT_MS } }),
    startAttackServer({ keepalive: { maxIdleMs: IDLE_LIMIT_MS } }),
  ]);
});

after(async () => {
  await Promise.all([server.stop(), idleServer.stop()]);
});

type Behaviour = 'silence' | 'half hello' | 'trickle';

/**
 * One connection that never completes its handshake; resolves with how long it stayed open, or with
 * Infinity when the server had not closed it GIVE_UP_MS after dialling.
 */
function unfinishedHandshake(localAddress: string, behaviour: Behaviour, hello: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port, localAddress });
    let opened = performance.now();
    let trickle: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      socket.destroy();
      resolve(Infinity);
    }, GIVE_UP_MS);
    socket.on('error', () => undefined);
    socket.resume();
    socket.once('connect', () => {
      opened = performance.now();
      if (behaviour === 'half hello') socket.write(hello);
      if (behaviour === 'trickle') {
        let sent = 0;
        trickle = setInterval(() => socket.write(hello.subarray(sent, ++sent)), 100);
      }
    });
    socket.once('close', () => {
      clearTimeout(giveUp);
      clearInterval(trickle);
      resolve(performance.now() - opened);
    });
  });
}

test(`${FLOOD_CONNECTIONS} connections that never finish the TLS handshake are all closed, and RSS comes back`, async (t) => {
  const hello = await halfClientHello();
  await server.mark();
  const before = await server.accepted();
  const calls = await bystander(server.port);
  const durations: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async (w: number): Promise<void> => {
    const address = w < CROWDED_WORKERS ? '127.0.0.2' : `127.0.0.${3 + (w % SPREAD_ADDRESSES)}`;
    for (let i = next++; i < FLOOD_CONNECTIONS; i = next++) {
      const behaviour: Behaviour = i % 10 === 0 ? 'trickle' : i % 2 === 0 ? 'silence' : 'half hello';
      durations.push(await unfinishedHandshake(address, behaviour, hello));
    }
  };
  await withDeadline(Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, (_, w) => worker(w))), {
    timeoutMs: 60_000,
    what: 'the flood to finish',
  });
  const floodMs = performance.now() - started;
  const { answered, errors } = await calls.stop();
  const rss = describeRss(await server.measure());
  const after = await server.accepted();
  const admitted = after.admitted - before.admitted;
  const refused = after.refused - before.refused;
  const open = durations.filter((d) => d === Infinity).length;
  t.diagnostic(
    `${FLOOD_CONNECTIONS} connections in ${(floodMs / 1000).toFixed(1)} s: ${admitted} admitted to the ` +
      `handshake and closed by its timeout (open ${after.shortestMs.toFixed(0)} to ` +
      `${after.longestMs.toFixed(0)} ms), ${refused} refused at once by the caps, ${open} left open; ` +
      `${rss.text}; bystander answered ${answered} calls`,
  );
  assert.equal(durations.length, FLOOD_CONNECTIONS);
  assert.equal(open, 0, 'every connection was closed by the server');
  assert.equal(admitted + refused, FLOOD_CONNECTIONS, 'the server saw every connection');
  assert.ok(refused > 0, 'the caps refused the connections beyond them');
  assert.ok(admitted >= MAX_HANDSHAKING_CONNECTIONS, 'the cap admits up to its limit');
  // Every admitted connection was closed by the handshake timeout: not before, and not much after.
  assert.equal(after.closed - before.closed, admitted, 'every admitted connection closed');
  assert.ok(
    after.shortestMs >= LIMIT_MS - TIMER_SLACK_MS,
    `none closed before the timeout (${after.shortestMs} ms)`,
  );
  assert.ok(after.longestMs < LIMIT_MS + CLOSE_SLACK_MS, `all closed soon after it (${after.longestMs} ms)`);
  assert.deepEqual(errors, [], 'the bystander kept being answered');
  assert.ok(answered > 0);
  assert.ok(rss.grownMiB <= FLOOD_RSS_LIMIT_MIB, `settled RSS after the flood: ${rss.text}`);
});

test(`idle-connection flood: ${IDLE_CONNECTIONS} pinned connections that never call are closed at the idle limit`, async (t) => {
  const rssBefore = await idleServer.mark();
  const calls = await bystander(idleServer.port);
  const peers: FakePeer[] = [];
  const goaways: Promise<number>[] = [];
  try {
    const started = performance.now();
    for (let i = 0; i < IDLE_CONNECTIONS; i += IDLE_BATCH) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(IDLE_BATCH, IDLE_CONNECTIONS - i) }, async () => {
          const peer = await fakeClient(idleServer.port);
          await handshake(peer);
          return peer;
        }),
      );
      peers.push(...batch);
    }
    for (const peer of peers) {
      goaways.push(
        peer
          .next((f) => f.type === FrameType.GOAWAY, IDLE_LIMIT_MS + CLOSE_SLACK_MS)
          .then((f) => f.payload.readUInt32BE(4)),
      );
    }
    const settled = await Promise.allSettled(goaways);
    const missed = settled.filter((r) => r.status === 'rejected').map((r) => String(r.reason));
    assert.deepEqual(missed, [], 'a GOAWAY on every idle connection');
    const codes = settled.map((r) => (r.status === 'fulfilled' ? r.value : -1));
    await withDeadline(
      Promise.all(peers.map((p) => new Promise((r) => (p.closed ? r(0) : p.socket.once('close', r))))),
      { timeoutMs: CLOSE_SLACK_MS, what: 'the server to close the idle connections' },
    );
    const closedMs = performance.now() - started;
    const { answered, errors } = await calls.stop();
    const rss = describeRss(await idleServer.measure());
    t.diagnostic(
      `${IDLE_CONNECTIONS} idle connections closed ${closedMs.toFixed(0)} ms after the first opened ` +
        `(idle limit ${IDLE_LIMIT_MS} ms); ${rss.text}; bystander answered ${answered} calls`,
    );
    assert.deepEqual(new Set(codes), new Set([ErrorCode.NO_ERROR]), 'GOAWAY NO_ERROR on each');
    assert.deepEqual(errors, []);
    assert.ok(rss.grownMiB <= IDLE_RSS_LIMIT_MIB, `settled RSS: ${rss.text}`);
    assert.ok(rssBefore.baseline > 0);
  } finally {
    for (const p of peers) p.socket.destroy();
  }
});
