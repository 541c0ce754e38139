import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConnectionError } from '../../src/grpc/h2/errors.js';
import { ErrorCode, Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { frameBytes, FrameReader, type Frame } from '../../src/grpc/h2/frames.js';

const { DATA, HEADERS, SETTINGS, PING } = FrameType;

const frames = [
  frameBytes(SETTINGS, 0, 0, Buffer.alloc(12, 1)),
  frameBytes(HEADERS, Flag.END_HEADERS, 1, Buffer.from('header block')),
  frameBytes(DATA, Flag.END_STREAM, 1, Buffer.alloc(16_384, 7)),
  frameBytes(PING, 0, 0, Buffer.alloc(8, 2)),
  frameBytes(DATA, 0, 3, Buffer.alloc(0)),
];
const stream = Buffer.concat(frames);

function read(chunks: Buffer[]): Frame[] {
  const reader = new FrameReader();
  const out: Frame[] = [];
  for (const c of chunks) reader.push(c, (f) => out.push({ ...f, payload: Buffer.from(f.payload) }));
  return out;
}

function expected(): Frame[] {
  return read([stream]);
}

test('frames are read whole whatever the chunking, down to one byte at a time', () => {
  const whole = expected();
  assert.equal(whole.length, frames.length);
  assert.deepEqual(
    whole.map((f) => [f.type, f.flags, f.streamId, f.payload.length]),
    [
      [SETTINGS, 0, 0, 12],
      [HEADERS, Flag.END_HEADERS, 1, 12],
      [DATA, Flag.END_STREAM, 1, 16_384],
      [PING, 0, 0, 8],
      [DATA, 0, 3, 0],
    ],
  );
  const bytes = [...stream].map((b) => Buffer.from([b]));
  assert.deepEqual(read(bytes), whole);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 20 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const chunks = [0, ...points].map((p, i) => stream.subarray(p, points[i] ?? stream.length));
      assert.deepEqual(read(chunks), whole);
    }),
  );
});

test('a frame header announcing more than the maximum frame size is a FRAME_SIZE_ERROR at once', () => {
  const reader = new FrameReader(16_384);
  const header = Buffer.from([0x00, 0x40, 0x01, 0x0, 0x0, 0, 0, 0, 1]); // 16,385 bytes announced
  assert.throws(
    () => reader.push(header, () => assert.fail('no frame expected')),
    (e: unknown) => e instanceof ConnectionError && e.code === ErrorCode.FRAME_SIZE_ERROR,
  );
});
