/**
 * The header-block assembler (HEADERS + CONTINUATION, src/grpc/h2/header-block.ts): blocks split across
 * frames are decoded whole, and a block is bounded in frames as well as bytes (CVE-2023-45288, issue 10
 * finding 1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionError } from '../../src/grpc/h2/errors.js';
import { ErrorCode, Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { FRAME_HEADER_BYTES, type Frame } from '../../src/grpc/h2/frames.js';
import { encodeHeaders, type DecodedBlock } from '../../src/grpc/h2/hpack.js';
import { HeaderBlockReader } from '../../src/grpc/h2/header-block.js';
import { MAX_CONTINUATION_FRAMES, MAX_HEADER_BLOCK_BYTES } from '../../src/grpc/h2/limits.js';

const { HEADERS, CONTINUATION } = FrameType;
const { END_HEADERS } = Flag;
const BLOCK = encodeHeaders([
  [':method', 'POST'],
  [':path', '/EPS/Call'],
]);

function frameOf(type: FrameType, flags: number, payload: Buffer = Buffer.alloc(0)): Frame {
  return { type, flags, streamId: 1, payload };
}

function reader(): { reader: HeaderBlockReader; blocks: DecodedBlock[] } {
  const blocks: DecodedBlock[] = [];
  return { reader: new HeaderBlockReader((_, decoded) => blocks.push(decoded)), blocks };
}

/** Feeds HEADERS (first fragment), then `empty` empty CONTINUATION frames, then one with the rest and END_HEADERS. */
function feed(r: HeaderBlockReader, empty: number): void {
  r.onHeaders(frameOf(HEADERS, 0, BLOCK.subarray(0, 3)));
  for (let i = 0; i < empty; i++) r.onContinuation(frameOf(CONTINUATION, 0));
  r.onContinuation(frameOf(CONTINUATION, END_HEADERS, BLOCK.subarray(3)));
}

function isCalm(what: RegExp): (e: unknown) => boolean {
  return (e) =>
    e instanceof ConnectionError && e.code === ErrorCode.ENHANCE_YOUR_CALM && what.test(e.message);
}

test(`a block in HEADERS and ${MAX_CONTINUATION_FRAMES} CONTINUATION frames is decoded whole`, () => {
  const { reader: r, blocks } = reader();
  feed(r, MAX_CONTINUATION_FRAMES - 1);
  assert.equal(blocks.length, 1);
  assert.equal(blocks[0]!.headers[':path'], '/EPS/Call');
});

test(`CONTINUATION frame number ${MAX_CONTINUATION_FRAMES + 1} of one block is ENHANCE_YOUR_CALM`, () => {
  const { reader: r, blocks } = reader();
  assert.throws(() => feed(r, MAX_CONTINUATION_FRAMES), isCalm(/more than 8 CONTINUATION frames/));
  assert.equal(blocks.length, 0);
});

test('an endless stream of empty CONTINUATION frames is cut at the frame bound, not later', () => {
  const { reader: r } = reader();
  r.onHeaders(frameOf(HEADERS, 0, BLOCK));
  let accepted = 0;
  assert.throws(
    () => {
      for (let i = 0; i < 1_000_000; i++, accepted++) r.onContinuation(frameOf(CONTINUATION, 0));
    },
    isCalm(/CONTINUATION frames/),
  );
  assert.equal(accepted, MAX_CONTINUATION_FRAMES);
});

test('each frame header counts toward the byte budget of a block', () => {
  const { reader: r } = reader();
  // HEADERS and one CONTINUATION whose payloads alone fit exactly, but not with their two frame headers.
  const first = MAX_HEADER_BLOCK_BYTES - 100;
  r.onHeaders(frameOf(HEADERS, 0, Buffer.alloc(first)));
  const second = frameOf(CONTINUATION, 0, Buffer.alloc(100 - FRAME_HEADER_BYTES));
  assert.throws(() => r.onContinuation(second), isCalm(new RegExp(`above ${MAX_HEADER_BLOCK_BYTES} bytes`)));
});

test('the frame count starts again with every block', () => {
  const { reader: r, blocks } = reader();
  feed(r, 2);
  r.onHeaders(frameOf(HEADERS, END_HEADERS, BLOCK));
  feed(r, MAX_CONTINUATION_FRAMES - 1); // the count starts again with every block
  assert.equal(blocks.length, 3);
});
