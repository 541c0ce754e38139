/** HTTP/2 frame layout (RFC 9113 §4, §6): frame builders and an incremental frame reader. */
import { ErrorCode, Flag, FrameType, type Setting } from './codes.js';
import { ConnectionError } from './errors.js';

export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const DEFAULT_WINDOW = 65_535;
export const DEFAULT_MAX_FRAME = 16_384;
export const MAX_WINDOW = 2 ** 31 - 1;
export const FRAME_HEADER_BYTES = 9;
/** A PRIORITY frame's payload, and the priority fields of a HEADERS frame with the PRIORITY flag. */
export const PRIORITY_BYTES = 5;

export function frameHeader(length: number, type: FrameType, flags: number, streamId: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  h.writeUIntBE(length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return h;
}

/** A whole frame in one buffer (for small frames: settings, pings, window updates, resets). */
export function frameBytes(type: FrameType, flags: number, streamId: number, payload?: Uint8Array): Buffer {
  const length = payload?.length ?? 0;
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  out.writeUIntBE(length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId, 5);
  if (payload) out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

function u32Frame(type: FrameType, streamId: number, value: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(value, 0);
  return frameBytes(type, 0, streamId, payload);
}

export function rstStreamFrame(streamId: number, code: ErrorCode): Buffer {
  return u32Frame(FrameType.RST_STREAM, streamId, code);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  return u32Frame(FrameType.WINDOW_UPDATE, streamId, increment);
}

export function settingsFrame(settings: readonly (readonly [Setting, number])[]): Buffer {
  const payload = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  return frameBytes(FrameType.SETTINGS, 0, 0, payload);
}

export function goawayFrame(lastStreamId: number, code: ErrorCode, debug = ''): Buffer {
  const text = Buffer.from(debug.slice(0, 256), 'utf8');
  const payload = Buffer.allocUnsafe(8 + text.length);
  payload.writeUInt32BE(lastStreamId, 0);
  payload.writeUInt32BE(code, 4);
  text.copy(payload, 8);
  return frameBytes(FrameType.GOAWAY, 0, 0, payload);
}

export interface Frame {
  /** Any 8-bit value: unknown types are ignored (RFC 9113 §5.5), so not narrowed to FrameType. */
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/**
 * Splits a byte stream into frames; a frame longer than `maxFrameSize` is a connection error. Chunks of an
 * incomplete frame are only collected and joined once the frame is complete, so a peer sending one byte
 * at a time costs linear, not quadratic, work.
 */
export class FrameReader {
  private parts: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before parsing can make progress: a frame header, or the whole current frame. */
  private need = FRAME_HEADER_BYTES;

  constructor(private readonly maxFrameSize = DEFAULT_MAX_FRAME) {}

  /** Bytes held for a frame not complete yet: always less than a frame header plus maxFrameSize. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    this.parts.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.need) return;
    const buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.buffered);
    this.parts = [];
    this.buffered = 0;
    this.need = FRAME_HEADER_BYTES;
    let pos = 0;
    while (buf.length - pos >= FRAME_HEADER_BYTES) {
      const length = buf.readUIntBE(pos, 3);
      if (length > this.maxFrameSize) {
        throw new ConnectionError(
          ErrorCode.FRAME_SIZE_ERROR,
          `frame of ${length} bytes above ${this.maxFrameSize}`,
        );
      }
      if (buf.length - pos < FRAME_HEADER_BYTES + length) {
        this.need = FRAME_HEADER_BYTES + length;
        break;
      }
      const start = pos + FRAME_HEADER_BYTES;
      onFrame({
        type: buf[pos + 3]!,
        flags: buf[pos + 4]!,
        streamId: buf.readUInt32BE(pos + 5) & 0x7fffffff,
        payload: buf.subarray(start, start + length),
      });
      pos = start + length;
    }
    if (pos < buf.length) {
      // Keep only the unread tail (a copy, so one big chunk is not held for a few bytes).
      this.parts = [Buffer.from(buf.subarray(pos))];
      this.buffered = buf.length - pos;
    }
  }
}

/** Strips the padding of a DATA or HEADERS payload (the PADDED flag). */
export function unpad(frame: Frame): Buffer {
  if ((frame.flags & Flag.PADDED) === 0) return frame.payload;
  const p = frame.payload;
  if (p.length < 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'padded frame without pad length');
  const padLength = p[0]!;
  if (padLength >= p.length)
    throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'padding longer than the frame');
  return p.subarray(1, p.length - padLength);
}

/** A stream error found in a frame: its code and why. */
export interface StreamProblem {
  code: ErrorCode;
  message: string;
}

/**
 * The stream error a PRIORITY frame for stream `id` carries, if any: a size other than PRIORITY_BYTES, or a
 * stream that depends on itself (RFC 9113 §6.3, §5.3.1); on stream 0 it is a connection error (thrown).
 */
export function priorityProblem(id: number, payload: Buffer): StreamProblem | undefined {
  if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
  if (payload.length !== PRIORITY_BYTES) {
    return { code: ErrorCode.FRAME_SIZE_ERROR, message: `PRIORITY of ${payload.length} bytes` };
  }
  if ((payload.readUInt32BE(0) & 0x7fffffff) !== id) return undefined;
  return { code: ErrorCode.PROTOCOL_ERROR, message: `stream ${id} depends on itself` };
}
