/**
 * Flood budget (SECURITY.md#flood-budget), control-frame rows, against a real server process over mutual
 * TLS: ping flood (CVE-2019-9512), settings flood (-9515), reset flood (-9514), rapid reset
 * (CVE-2023-44487), resource loop by priority churn (-9513) and empty frames (-9518). Each attack runs at
 * full speed with a bounded count far above its limit; runAttack() checks that the server closes the
 * attacker within seconds, that its settled RSS stays within a few MiB and that a bystander connection
 * keeps being answered.
 */
import { after, before, test } from 'node:test';
import { ErrorCode, Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { frameBytes, windowUpdateFrame } from '../../src/grpc/h2/frames.js';
import { RESET_BURST, UNPRODUCTIVE_FRAME_BURST } from '../../src/grpc/h2/limits.js';
import { grpcRequest } from '../helpers/h2-grpc-server.js';
import { flood, repeated, runAttack } from './attack-client.js';
import { startAttackServer, type AttackServer } from './attack-server.js';

const { DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PING } = FrameType;
const { END_HEADERS } = Flag;

let server: AttackServer;

before(async () => {
  server = await startAttackServer();
});

after(async () => {
  await server.stop();
});

/** Frames for `count` streams from stream 1 on, `perStream` giving each stream's frames. */
function perStream(count: number, frames: (id: number) => Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0, id = 1; i < count; i++, id += 2) parts.push(...frames(id));
  return Buffer.concat(parts);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}

test('ping flood (CVE-2019-9512): PINGs at full speed, never read, end in GOAWAY ENHANCE_YOUR_CALM', async (t) => {
  const ping = frameBytes(PING, 0, 0, Buffer.from('floodpng'));
  await runAttack(
    t,
    server,
    async (peer) => {
      peer.socket.pause();
      await flood(peer, repeated(ping, 100_000));
    },
    { goaway: ErrorCode.ENHANCE_YOUR_CALM },
  );
});

test('settings flood (CVE-2019-9515): empty SETTINGS at full speed end in GOAWAY ENHANCE_YOUR_CALM', async (t) => {
  const settings = frameBytes(SETTINGS, 0, 0);
  await runAttack(
    t,
    server,
    async (peer) => {
      peer.socket.pause();
      await flood(peer, repeated(settings, 20 * UNPRODUCTIVE_FRAME_BURST));
    },
    { goaway: ErrorCode.ENHANCE_YOUR_CALM },
  );
});

test('reset flood (CVE-2019-9514): streams the server must reset, answers never read, end the connection', async (t) => {
  // Each stream opens a streaming call and breaks it (WINDOW_UPDATE of 0): the server answers RST_STREAM.
  const attack = perStream(4 * RESET_BURST, (id) => [
    frameBytes(HEADERS, END_HEADERS, id, grpcRequest('/EPS/Echo')),
    windowUpdateFrame(id, 0),
  ]);
  await runAttack(
    t,
    server,
    async (peer) => {
      peer.socket.pause();
      await flood(peer, attack);
    },
    { goaway: ErrorCode.ENHANCE_YOUR_CALM },
  );
});

test('rapid reset (CVE-2023-44487): requests cancelled at once beyond the token bucket end the connection', async (t) => {
  const attack = perStream(4 * RESET_BURST, (id) => [
    frameBytes(HEADERS, END_HEADERS, id, grpcRequest('/EPS/Call')),
    frameBytes(RST_STREAM, 0, id, u32(ErrorCode.CANCEL)),
  ]);
  await runAttack(t, server, (peer) => flood(peer, attack), { goaway: ErrorCode.ENHANCE_YOUR_CALM });
});

test('resource loop (CVE-2019-9513): PRIORITY churn at full speed ends in GOAWAY ENHANCE_YOUR_CALM', async (t) => {
  // Each idle stream made to depend on the next, exclusively, with changing weights: a priority tree
  // would be rebuilt on every frame.
  const attack = perStream(50 * UNPRODUCTIVE_FRAME_BURST, (id) => {
    const p = Buffer.alloc(5);
    p.writeUInt32BE((0x80000000 | (id + 2)) >>> 0);
    p[4] = id & 0xff;
    return [frameBytes(PRIORITY, 0, id, p)];
  });
  await runAttack(t, server, (peer) => flood(peer, attack), { goaway: ErrorCode.ENHANCE_YOUR_CALM });
});

test('empty frames (CVE-2019-9518): empty DATA frames on an open stream end in GOAWAY ENHANCE_YOUR_CALM', async (t) => {
  const attack = Buffer.concat([
    frameBytes(HEADERS, END_HEADERS, 1, grpcRequest('/EPS/Echo')),
    repeated(frameBytes(DATA, 0, 1), 50 * UNPRODUCTIVE_FRAME_BURST),
  ]);
  await runAttack(t, server, (peer) => flood(peer, attack), { goaway: ErrorCode.ENHANCE_YOUR_CALM });
});
