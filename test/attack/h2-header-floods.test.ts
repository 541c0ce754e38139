/**
 * Flood budget (SECURITY.md#flood-budget), header-block rows, against a real server process over mutual
 * TLS: zero-length headers (CVE-2019-9516), CONTINUATION flood (CVE-2023-45288) and an HPACK bomb (a
 * dynamic-table entry referenced over and over, each one-byte reference expanding to 4 KB). See
 * attack-client.ts for what runAttack() asserts.
 */
import { after, before, test } from 'node:test';
import { ErrorCode, Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { frameBytes } from '../../src/grpc/h2/frames.js';
import { MAX_HEADER_LIST_BYTES, RESET_BURST } from '../../src/grpc/h2/limits.js';
import { grpcRequest } from '../helpers/h2-grpc-server.js';
import { flood, repeated, runAttack } from './attack-client.js';
import { startAttackServer, type AttackServer } from './attack-server.js';

const { HEADERS, CONTINUATION } = FrameType;
const { END_HEADERS } = Flag;

/** Bytes one header field adds to the header list size besides its name and value (RFC 7541 §4.1). */
const FIELD_OVERHEAD = 32;

let server: AttackServer;

before(async () => {
  server = await startAttackServer();
});

after(async () => {
  await server.stop();
});

/** A HEADERS frame opening each of `count` streams (1, 3, 5, ...) with the block `blockOf(i)`. */
function streamsWith(count: number, blockOf: (i: number) => Buffer): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) frames.push(frameBytes(HEADERS, END_HEADERS, 2 * i + 1, blockOf(i)));
  return Buffer.concat(frames);
}

test('zero-length headers (CVE-2019-9516): blocks of empty fields are refused and the connection ends', async (t) => {
  // "Literal without indexing, new name" with an empty name and an empty value: 3 bytes, 32 of list size.
  const emptyField = Buffer.from([0x00, 0x00, 0x00]);
  const fields = Math.ceil(MAX_HEADER_LIST_BYTES / FIELD_OVERHEAD) + 1;
  const block = repeated(emptyField, fields);
  await runAttack(
    t,
    server,
    (peer) =>
      flood(
        peer,
        streamsWith(2 * RESET_BURST, () => block),
      ),
    {
      goaway: ErrorCode.ENHANCE_YOUR_CALM,
    },
  );
});

test('CONTINUATION flood (CVE-2023-45288): empty CONTINUATION frames end in GOAWAY ENHANCE_YOUR_CALM', async (t) => {
  const attack = Buffer.concat([
    frameBytes(HEADERS, 0, 1, grpcRequest()),
    repeated(frameBytes(CONTINUATION, 0, 1), 200_000),
  ]);
  await runAttack(t, server, (peer) => flood(peer, attack), { goaway: ErrorCode.ENHANCE_YOUR_CALM });
});

test('HPACK bomb: one-byte references to a 4 KB table entry are bounded, refused, and the connection ends', async (t) => {
  // Stream 1 puts "x: aaaa…" (4000 bytes) into the dynamic table ("literal with incremental indexing,
  // new name"; the value's length 4000 as a 7-bit-prefix integer: 0x7f 0xa1 0x1e).
  const insert = Buffer.concat([Buffer.from([0x40, 0x01, 0x78, 0x7f, 0xa1, 0x1e]), Buffer.alloc(4000, 0x61)]);
  // Index 62 is the newest dynamic entry: 0x80 | 62. 4000 references decode to 16 MB of fields.
  const references = Buffer.alloc(4000, 0x80 | 62);
  const attack = streamsWith(2 * RESET_BURST, (i) =>
    i === 0 ? Buffer.concat([insert, references]) : references,
  );
  await runAttack(t, server, (peer) => flood(peer, attack), { goaway: ErrorCode.ENHANCE_YOUR_CALM });
});
