/**
 * Incoming header blocks (RFC 9113 §4.3): a HEADERS frame and the CONTINUATION frames that complete it,
 * with nothing else in between, assembled within MAX_HEADER_BLOCK_BYTES (frame headers included) and
 * MAX_CONTINUATION_FRAMES, and HPACK-decoded in arrival order, so the decoder's dynamic table stays in step
 * with the peer's encoder. A block in one frame (the common case) is decoded in place, with no copy.
 */
import { ConnectionError } from './errors.js';
import { ErrorCode, Flag, FrameType } from './codes.js';
import { FRAME_HEADER_BYTES, PRIORITY_BYTES, unpad, type Frame } from './frames.js';
import { HpackDecoder, HpackError, type DecodedBlock } from './hpack.js';
import { MAX_CONTINUATION_FRAMES, MAX_HEADER_BLOCK_BYTES, MAX_HEADER_LIST_BYTES } from './limits.js';

/** Receives each complete, decoded header block. */
export type HeaderBlockHandler = (streamId: number, decoded: DecodedBlock, endStream: boolean) => void;

export class HeaderBlockReader {
  private readonly decoder = new HpackDecoder(4096, MAX_HEADER_LIST_BYTES);
  /**
   * A block whose HEADERS frame came without END_HEADERS: its fragments so far, the bytes they took on the
   * wire (frame headers included) and the CONTINUATION frames received.
   */
  private pending?: {
    streamId: number;
    parts: Buffer[];
    bytes: number;
    continuations: number;
    endStream: boolean;
    selfDependent: boolean;
  };

  constructor(private readonly onBlock: HeaderBlockHandler) {}

  /** Wire bytes of the incomplete block held (at most MAX_HEADER_BLOCK_BYTES); 0 between blocks. */
  get pendingBytes(): number {
    return this.pending?.bytes ?? 0;
  }

  /** While a block is incomplete, only CONTINUATION frames of its stream may arrive. */
  checkNotInterrupted(f: Frame): void {
    const p = this.pending;
    if (p && (f.type !== FrameType.CONTINUATION || f.streamId !== p.streamId)) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'header block interrupted by another frame');
    }
  }

  onHeaders(f: Frame): void {
    if (f.streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    let fragment = unpad(f);
    let selfDependent = false;
    if (f.flags & Flag.PRIORITY) {
      if (fragment.length < PRIORITY_BYTES) {
        throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'HEADERS too short for its priority fields');
      }
      // A stream cannot depend on itself (RFC 9113 §5.3.1): a stream error, once the block is decoded.
      selfDependent = (fragment.readUInt32BE(0) & 0x7fffffff) === f.streamId;
      fragment = fragment.subarray(PRIORITY_BYTES);
    }
    const endStream = (f.flags & Flag.END_STREAM) !== 0;
    if (f.flags & Flag.END_HEADERS) return this.complete(f.streamId, fragment, endStream, selfDependent);
    this.pending = {
      streamId: f.streamId,
      parts: [Buffer.from(fragment)],
      bytes: FRAME_HEADER_BYTES + f.payload.length,
      continuations: 0,
      endStream,
      selfDependent,
    };
  }

  onContinuation(f: Frame): void {
    const p = this.pending;
    if (!p) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION without HEADERS');
    if (++p.continuations > MAX_CONTINUATION_FRAMES) {
      throw new ConnectionError(
        ErrorCode.ENHANCE_YOUR_CALM,
        `header block in more than ${MAX_CONTINUATION_FRAMES} CONTINUATION frames`,
      );
    }
    p.bytes += FRAME_HEADER_BYTES + f.payload.length;
    if (p.bytes > MAX_HEADER_BLOCK_BYTES) {
      throw new ConnectionError(
        ErrorCode.ENHANCE_YOUR_CALM,
        `header block above ${MAX_HEADER_BLOCK_BYTES} bytes`,
      );
    }
    if (f.payload.length > 0) p.parts.push(Buffer.from(f.payload));
    if ((f.flags & Flag.END_HEADERS) === 0) return;
    this.pending = undefined;
    this.complete(p.streamId, Buffer.concat(p.parts), p.endStream, p.selfDependent);
  }

  private complete(streamId: number, block: Buffer, endStream: boolean, selfDependent: boolean): void {
    let decoded;
    try {
      // Always decoded, even for a stream already closed: the HPACK table must stay in step.
      decoded = this.decoder.decode(block);
    } catch (e) {
      throw new ConnectionError(
        ErrorCode.COMPRESSION_ERROR,
        `bad header block: ${(e as HpackError).message}`,
      );
    }
    if (selfDependent) decoded.malformed ??= `stream ${streamId} depends on itself`;
    this.onBlock(streamId, decoded, endStream);
  }
}
