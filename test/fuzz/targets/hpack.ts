/**
 * HPACK decoder harness (src/grpc/h2/hpack.ts). An input is the header blocks of one connection, each
 * behind a length byte (0xff: the rest of the input is one block), decoded in order by two decoders: the
 * one the HTTP/2 connection uses (4096-byte table, MAX_HEADER_LIST_BYTES) and a small one (256, 1024) that
 * reaches the limits sooner. Asserted after every block: only HpackError escapes; the dynamic table stays
 * within its limit; a list that is not flagged oversized holds at most the list limit; decoded fields
 * re-encode (encodeHeaders) and decode to the same fields.
 */
import fc from 'fast-check';
import { encodeHeaders, HpackDecoder, HpackError, type DecodedBlock } from '../../../src/grpc/h2/hpack.js';
import { MAX_HEADER_LIST_BYTES } from '../../../src/grpc/h2/limits.js';
import type { FuzzTarget } from '../engine/types.js';
import { bound, check, onlyTypedErrors, same } from './checks.js';
import { encodeRepresentation, headerBlockArb } from './hpack-wire.js';

const ENTRY_OVERHEAD = 32;
const REST_IS_ONE_BLOCK = 0xff;
const DECODERS: readonly { tableLimit: number; listLimit: number }[] = [
  { tableLimit: 4096, listLimit: MAX_HEADER_LIST_BYTES },
  { tableLimit: 256, listLimit: 1024 },
];

export function splitBlocks(input: Buffer): Buffer[] {
  const blocks: Buffer[] = [];
  let pos = 0;
  while (pos < input.length) {
    const length = input[pos++]!;
    if (length === REST_IS_ONE_BLOCK) {
      blocks.push(input.subarray(pos));
      break;
    }
    blocks.push(input.subarray(pos, pos + length));
    pos += length;
  }
  return blocks;
}

export function joinBlocks(blocks: readonly Buffer[]): Buffer {
  return Buffer.concat(
    blocks.map((b, i) =>
      i === blocks.length - 1 || b.length >= REST_IS_ONE_BLOCK
        ? Buffer.concat([Buffer.from([REST_IS_ONE_BLOCK]), b])
        : Buffer.concat([Buffer.from([b.length]), b]),
    ),
  );
}

function listBytes(decoded: DecodedBlock): number {
  let total = 0;
  for (const [name, value] of Object.entries(decoded.headers))
    total += name.length + value.length + ENTRY_OVERHEAD;
  return total;
}

function checkBlock(decoder: HpackDecoder, decoded: DecodedBlock, limits: (typeof DECODERS)[number]): void {
  bound('dynamic table size', decoder.tableSize, limits.tableLimit);
  // Fields stop being kept at the limit (oversized blocks too). Joined repeats ("a, b") count one
  // overhead less per repeat but 2 bytes more, so the kept fields are never above it.
  bound('decoded header list bytes', listBytes(decoded), limits.listLimit);
  if (decoded.oversized) return;
  for (const [name, value] of Object.entries(decoded.headers)) {
    check('header strings are latin1', typeof name === 'string' && typeof value === 'string');
  }
  const again = new HpackDecoder(limits.tableLimit, limits.listLimit).decode(
    encodeHeaders(Object.entries(decoded.headers)),
  );
  check('re-encoded block not oversized', !again.oversized);
  same('re-encoded fields', { ...again.headers }, { ...decoded.headers });
}

function run(input: Buffer): void {
  const blocks = splitBlocks(input);
  for (const limits of DECODERS) {
    const decoder = new HpackDecoder(limits.tableLimit, limits.listLimit);
    for (const block of blocks) {
      const failed = onlyTypedErrors(() => checkBlock(decoder, decoder.decode(block), limits), [HpackError]);
      if (failed) break; // a connection error: the table state is unknown, the connection ends
    }
  }
}

const GRPC_REQUEST: [string, string][] = [
  [':method', 'POST'],
  [':scheme', 'https'],
  [':path', '/eps.Peer/Call'],
  [':authority', 'hd-1.example'],
  ['content-type', 'application/grpc'],
  ['te', 'trailers'],
  ['grpc-timeout', '2S'],
];

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

export const hpackTarget: FuzzTarget = {
  name: 'hpack',
  maxInputBytes: 8192,
  sources: ['/src/grpc/h2/hpack', '/src/grpc/h2/huffman'],
  dictionary: [
    hex('3fe11f'),
    hex('20'),
    hex('3f'),
    hex('ff'),
    hex('7f'),
    hex('ffffffff0f'),
    hex('40'),
    hex('10'),
    hex('be'),
  ],
  seeds: () => [
    joinBlocks([encodeHeaders(GRPC_REQUEST, true)]),
    joinBlocks([
      encodeHeaders([
        [':status', '200'],
        ['content-type', 'application/grpc'],
      ]),
      encodeHeaders([['grpc-status', '0']]),
    ]),
    // RFC 7541 C.3 and C.4 (requests without and with Huffman coding, sharing one table).
    joinBlocks([
      hex('828684410f7777772e6578616d706c652e636f6d'),
      hex('828684be58086e6f2d6361636865'),
      hex('828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565'),
    ]),
    joinBlocks([hex('828684418cf1e3c2e5f23a6ba0ab90f4ff'), hex('828684be5886a8eb10649cbf')]),
    joinBlocks([
      Buffer.concat([
        encodeRepresentation({ kind: 'size-update', size: 100 }),
        encodeRepresentation({
          kind: 'literal',
          mode: 'incremental',
          nameIndex: 0,
          name: 'x-a',
          value: 'v'.repeat(60),
          huffman: true,
        }),
        encodeRepresentation({
          kind: 'literal',
          mode: 'never',
          nameIndex: 0,
          name: 'x-b',
          value: 'w',
          huffman: false,
        }),
        encodeRepresentation({ kind: 'indexed', index: 62 }),
      ]),
    ]),
  ],
  generate: (rng, count) =>
    fc
      .sample(fc.array(headerBlockArb, { minLength: 1, maxLength: 4 }), {
        seed: rng.next() | 0,
        numRuns: count,
      })
      .map(joinBlocks),
  run,
};
