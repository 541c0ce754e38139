/**
 * HTTP/2 frame reader harness (src/grpc/h2/frames.ts with header-block.ts and hpack.ts behind it): the
 * input, after a first byte that picks how it is cut into chunks, is what a peer sends after the preface.
 * Frames go through the path the connection takes for them: unpad for DATA/HEADERS/PUSH_PROMISE, header
 * blocks (HEADERS + CONTINUATION) assembled and HPACK-decoded. Asserted: only ConnectionError (with one of
 * our codes) escapes; the reader holds less than one frame header plus the maximum frame size; a pending
 * header block stays within MAX_HEADER_BLOCK_BYTES and a decoded list within MAX_HEADER_LIST_BYTES; and
 * reading the bytes in one chunk or in many gives the same frames, blocks and error.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { Flag, FrameType } from '../../../src/grpc/h2/codes.js';
import { ConnectionError } from '../../../src/grpc/h2/errors.js';
import {
  DEFAULT_MAX_FRAME,
  FRAME_HEADER_BYTES,
  FrameReader,
  frameBytes,
  goawayFrame,
  rstStreamFrame,
  settingsFrame,
  unpad,
  windowUpdateFrame,
  type Frame,
} from '../../../src/grpc/h2/frames.js';
import { HeaderBlockReader } from '../../../src/grpc/h2/header-block.js';
import { encodeHeaders } from '../../../src/grpc/h2/hpack.js';
import { MAX_HEADER_BLOCK_BYTES, MAX_HEADER_LIST_BYTES } from '../../../src/grpc/h2/limits.js';
import type { Rng } from '../engine/rng.js';
import type { FuzzTarget } from '../engine/types.js';
import { bound, onlyTypedErrors, same } from './checks.js';
import { headerBlockArb } from './hpack-wire.js';

const ENTRY_OVERHEAD = 32;

/** Cuts `bytes` into chunks whose sizes follow from `seed` (0: one chunk). */
function chunks(bytes: Buffer, seed: number): Buffer[] {
  if (seed === 0) return [bytes];
  const out: Buffer[] = [];
  let state = seed;
  for (let pos = 0; pos < bytes.length;) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    const size = 1 + (state % (seed < 128 ? 16 : 4096));
    out.push(bytes.subarray(pos, pos + size));
    pos += size;
  }
  return out;
}

/** unpad keeps exactly the bytes between the pad length byte and the padding. */
function checkUnpad(f: Frame): void {
  const data = unpad(f);
  const overhead = f.flags & Flag.PADDED ? 1 + f.payload[0]! : 0;
  same('unpadded length', data.length + overhead, f.payload.length);
}

/** Everything the connection would see for this byte stream, as comparable lines. */
function readAll(parts: readonly Buffer[]): string[] {
  const events: string[] = [];
  const reader = new FrameReader(DEFAULT_MAX_FRAME);
  const blocks = new HeaderBlockReader((streamId, decoded, endStream) => {
    let bytes = 0;
    for (const [name, value] of Object.entries(decoded.headers))
      bytes += name.length + value.length + ENTRY_OVERHEAD;
    bound('decoded header list bytes', bytes, MAX_HEADER_LIST_BYTES);
    events.push(`block ${streamId} ${endStream} ${decoded.oversized} ${JSON.stringify(decoded.headers)}`);
  });
  const onFrame = (f: Frame): void => {
    bound('frame payload', f.payload.length, DEFAULT_MAX_FRAME);
    bound('stream id', f.streamId, 2 ** 31 - 1);
    const digest = createHash('sha1').update(f.payload).digest('hex').slice(0, 12);
    events.push(`frame ${f.type} ${f.flags} ${f.streamId} ${f.payload.length} ${digest}`);
    blocks.checkNotInterrupted(f);
    if (f.type === FrameType.DATA || f.type === FrameType.PUSH_PROMISE) checkUnpad(f);
    else if (f.type === FrameType.HEADERS) blocks.onHeaders(f);
    else if (f.type === FrameType.CONTINUATION) blocks.onContinuation(f);
    bound('pending header block bytes', blocks.pendingBytes, MAX_HEADER_BLOCK_BYTES);
  };
  const failed = onlyTypedErrors(() => {
    for (const part of parts) {
      reader.push(part, onFrame);
      bound(
        'bytes held by the frame reader',
        reader.bufferedBytes,
        FRAME_HEADER_BYTES + DEFAULT_MAX_FRAME - 1,
      );
    }
  }, [ConnectionError]);
  if (failed instanceof ConnectionError) events.push(`error ${failed.code}`);
  return events;
}

function run(input: Buffer): void {
  if (input.length === 0) return;
  const bytes = input.subarray(1);
  const whole = readAll([bytes]);
  if (input[0] !== 0) same('frames read whole and in chunks', readAll(chunks(bytes, input[0]!)), whole);
}

const headers = (streamId: number, flags: number, block: Buffer): Buffer =>
  frameBytes(FrameType.HEADERS, flags, streamId, block);

const REQUEST = encodeHeaders(
  [
    [':method', 'POST'],
    [':scheme', 'https'],
    [':path', '/eps.Peer/Call'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
  ],
  true,
);

function seeds(): Buffer[] {
  const split = Math.floor(REQUEST.length / 2);
  return [
    Buffer.concat([
      Buffer.from([0]),
      settingsFrame([[0x4, 65_535]]),
      headers(1, Flag.END_HEADERS, REQUEST),
      frameBytes(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from([0, 0, 0, 0, 2, 8, 1])),
      windowUpdateFrame(0, 1000),
      frameBytes(FrameType.PING, 0, 0, Buffer.alloc(8)),
      rstStreamFrame(1, 8),
      goawayFrame(1, 0, 'bye'),
    ]),
    Buffer.concat([
      Buffer.from([7]),
      headers(
        3,
        Flag.PADDED | Flag.PRIORITY,
        Buffer.concat([Buffer.from([4]), Buffer.alloc(5), REQUEST.subarray(0, split), Buffer.alloc(4)]),
      ),
      frameBytes(FrameType.CONTINUATION, 0, 3, Buffer.alloc(0)),
      frameBytes(FrameType.CONTINUATION, Flag.END_HEADERS, 3, REQUEST.subarray(split)),
      frameBytes(FrameType.DATA, Flag.PADDED, 3, Buffer.from([2, 1, 2, 0, 0])),
      frameBytes(FrameType.PRIORITY, 0, 3, Buffer.alloc(5)),
      frameBytes(0xfa as FrameType, 0, 0, Buffer.from('unknown type')),
    ]),
    Buffer.concat([
      Buffer.from([200]),
      frameBytes(FrameType.DATA, 0, 1, Buffer.alloc(DEFAULT_MAX_FRAME, 0x61)),
    ]),
  ];
}

const frameArb = fc.record({
  type: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 255 })),
  flags: fc.constantFrom(
    0,
    Flag.END_STREAM,
    Flag.END_HEADERS,
    Flag.END_HEADERS | Flag.END_STREAM,
    Flag.PADDED,
    Flag.PRIORITY,
    0x2d,
    0xff,
  ),
  streamId: fc.oneof(fc.constantFrom(0, 1, 3), fc.nat()),
  payload: fc.oneof(
    headerBlockArb,
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  ),
});

/**
 * Frames whose length field says anything near the limits, followed by however many bytes (so the reader
 * holds a partial frame), and header blocks in many large CONTINUATION frames (the block byte limit).
 */
const bigArb = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(
        DEFAULT_MAX_FRAME - 1,
        DEFAULT_MAX_FRAME,
        DEFAULT_MAX_FRAME + 1,
        2 * DEFAULT_MAX_FRAME,
        0xffffff,
      ),
      fc.integer({ min: 0, max: 0xff }),
      fc.integer({ min: DEFAULT_MAX_FRAME - 16, max: DEFAULT_MAX_FRAME + 64 }),
    )
    .map(([length, type, present]) => {
      const header = frameBytes(type as FrameType, 0, 1);
      header.writeUIntBE(length, 0, 3);
      return Buffer.concat([header, Buffer.alloc(present, 0x61)]);
    }),
  fc
    .tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 6_000, max: DEFAULT_MAX_FRAME }))
    .map(([count, size]) =>
      Buffer.concat([
        headers(1, 0, Buffer.alloc(size, 0x82)),
        ...Array.from({ length: count }, (_, i) =>
          frameBytes(
            FrameType.CONTINUATION,
            i === count - 1 ? Flag.END_HEADERS : 0,
            1,
            Buffer.alloc(size, 0x82),
          ),
        ),
      ]),
    ),
);

function generate(rng: Rng, count: number): Buffer[] {
  const small = fc
    .array(frameArb, { maxLength: 12 })
    .map((frames) =>
      Buffer.concat(
        frames.map((f) =>
          frameBytes(f.type as FrameType, f.flags, f.streamId, f.payload.subarray(0, DEFAULT_MAX_FRAME)),
        ),
      ),
    );
  return fc
    .sample(
      fc.tuple(fc.nat(255), fc.oneof({ weight: 4, arbitrary: small }, { weight: 1, arbitrary: bigArb })),
      {
        seed: rng.next() | 0,
        numRuns: count,
      },
    )
    .map(([cut, bytes]) => Buffer.concat([Buffer.from([cut]), bytes]));
}

export const h2FramesTarget: FuzzTarget = {
  name: 'h2-frames',
  maxInputBytes: 80 * 1024,
  sources: ['/src/grpc/h2/frames', '/src/grpc/h2/header-block', '/src/grpc/h2/hpack', '/src/grpc/h2/huffman'],
  dictionary: [
    frameBytes(FrameType.CONTINUATION, 0, 1, Buffer.alloc(0)),
    frameBytes(FrameType.CONTINUATION, Flag.END_HEADERS, 1, Buffer.alloc(0)),
    headers(1, 0, Buffer.alloc(0)),
    Buffer.from([0x00, 0x40, 0x01]),
    Buffer.from([0xff, 0xff, 0xff]),
    Buffer.from([0x7f, 0xff, 0xff, 0xff]),
  ],
  seeds,
  generate,
  run,
};
