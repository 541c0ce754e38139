/**
 * An HPACK encoder for the fuzzers' generators that uses every representation (RFC 7541 §6): indexed,
 * literal with incremental indexing, without indexing and never indexed, Huffman or plain strings, and
 * dynamic table size updates, so generated blocks reach the decoder's dynamic-table paths.
 */
import fc from 'fast-check';
import { huffmanCodes } from '../../../src/grpc/h2/huffman.js';

const CODES = huffmanCodes();

function huffman(bytes: Buffer): Buffer {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    const { code, bits: n } = CODES[b]!;
    for (let i = n - 1; i >= 0; i--) {
      acc = (acc << 1) | (Math.floor(code / 2 ** i) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) & 0xff);
  return Buffer.from(out);
}

export function hpackInt(first: number, prefixBits: number, value: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return Buffer.from(out);
}

function hpackString(text: string, useHuffman: boolean): Buffer {
  const raw = Buffer.from(text, 'latin1');
  const body = useHuffman ? huffman(raw) : raw;
  return Buffer.concat([hpackInt(useHuffman ? 0x80 : 0, 7, body.length), body]);
}

export type Representation =
  | { kind: 'indexed'; index: number }
  | {
      kind: 'literal';
      mode: 'incremental' | 'without' | 'never';
      nameIndex: number;
      name: string;
      value: string;
      huffman: boolean;
    }
  | { kind: 'size-update'; size: number };

export function encodeRepresentation(r: Representation): Buffer {
  switch (r.kind) {
    case 'indexed':
      return hpackInt(0x80, 7, r.index);
    case 'size-update':
      return hpackInt(0x20, 5, r.size);
    case 'literal': {
      const [first, bits] = r.mode === 'incremental' ? [0x40, 6] : r.mode === 'never' ? [0x10, 4] : [0x00, 4];
      const name = r.nameIndex === 0 ? hpackString(r.name, r.huffman) : Buffer.alloc(0);
      return Buffer.concat([hpackInt(first, bits, r.nameIndex), name, hpackString(r.value, r.huffman)]);
    }
  }
}

const nameArb = fc.oneof(
  fc.constantFrom('content-type', 'te', 'grpc-timeout', 'grpc-status', 'x-custom', ':path', 'user-agent'),
  fc.string({ maxLength: 20 }),
);
const valueArb = fc.oneof(
  fc.constantFrom('application/grpc', 'trailers', '1S', '0', '/eps.Peer/Call'),
  fc.string({ maxLength: 40 }),
  // Long values from a short repeated piece: cheap to generate, still crosses table and list limits.
  fc
    .tuple(fc.string({ minLength: 1, maxLength: 4 }), fc.integer({ min: 25, max: 1000 }))
    .map(([s, n]) => s.repeat(n)),
);

export const representationArb: fc.Arbitrary<Representation> = fc.oneof(
  fc.record({ kind: fc.constant('indexed' as const), index: fc.integer({ min: 1, max: 80 }) }),
  fc.record({
    kind: fc.constant('literal' as const),
    mode: fc.constantFrom('incremental' as const, 'without' as const, 'never' as const),
    nameIndex: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 75 })),
    name: nameArb,
    value: valueArb,
    huffman: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('size-update' as const), size: fc.oneof(fc.nat(4096), fc.nat(70_000)) }),
);

/** A header block: representations, size updates first in most blocks (as RFC 7541 §4.2 wants). */
export const headerBlockArb: fc.Arbitrary<Buffer> = fc
  .array(representationArb, { maxLength: 24 })
  .map((reps) => Buffer.concat(reps.map(encodeRepresentation)));
