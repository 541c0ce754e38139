/**
 * How the most recently closed streams of a connection ended, so that a frame arriving for one of them is
 * answered as RFC 9113 §5.1 says: ignored if we reset the stream (the peer may have sent it before our
 * RST_STREAM arrived), a stream error STREAM_CLOSED if the peer reset it, a connection error STREAM_CLOSED
 * if it ended normally (the peer had sent END_STREAM). A fixed ring of CLOSED_STREAMS_REMEMBERED entries
 * in typed arrays: recording a close allocates nothing, and only a frame for a closed stream searches it.
 * Streams that closed earlier are forgotten; §5.1 lets an endpoint limit how long it tells them apart.
 */
import { ErrorCode } from './codes.js';
import { ConnectionError } from './errors.js';
import { CLOSED_STREAMS_REMEMBERED } from './limits.js';

export const CloseCause = {
  /** Not remembered: closed long ago, or an id the peer skipped (implicitly closed, §5.1.1). */
  UNKNOWN: 0,
  /** We sent RST_STREAM (a reset, a refusal, or an answer that ended before the request). */
  RESET_BY_US: 1,
  /** The peer sent RST_STREAM. */
  RESET_BY_PEER: 2,
  /** Both sides sent END_STREAM. */
  ENDED: 3,
} as const;
export type CloseCause = (typeof CloseCause)[keyof typeof CloseCause];

export class ClosedStreams {
  private readonly ids = new Int32Array(CLOSED_STREAMS_REMEMBERED);
  private readonly causes = new Uint8Array(CLOSED_STREAMS_REMEMBERED);
  private next = 0;

  record(id: number, cause: CloseCause): void {
    this.ids[this.next] = id;
    this.causes[this.next] = cause;
    this.next = (this.next + 1) % CLOSED_STREAMS_REMEMBERED;
  }

  /**
   * DATA or HEADERS arrived for stream `id`, which is not open: true if it must be answered with a stream
   * error STREAM_CLOSED (the peer had reset the stream), false if it is ignored (we reset it, so the peer
   * may have sent the frame before our RST_STREAM reached it); throws the connection error if the stream
   * had ended. A stream not remembered: HEADERS reusing its id is a connection error PROTOCOL_ERROR
   * (§5.1.1), DATA is ignored (it may be late data of a stream we reset).
   */
  lateFrame(id: number, type: 'DATA' | 'HEADERS'): boolean {
    switch (this.cause(id)) {
      case CloseCause.RESET_BY_US:
        return false;
      case CloseCause.RESET_BY_PEER:
        return true;
      case CloseCause.ENDED:
        throw new ConnectionError(ErrorCode.STREAM_CLOSED, `${type} on stream ${id} after it ended`);
      case CloseCause.UNKNOWN:
        if (type === 'DATA') return false;
        throw new ConnectionError(
          ErrorCode.PROTOCOL_ERROR,
          `HEADERS on stream ${id}, not above the last one`,
        );
    }
  }

  /** How stream `id` ended, newest record first (stream ids are never 0, the arrays' initial value). */
  cause(id: number): CloseCause {
    for (let n = 0, i = this.next; n < CLOSED_STREAMS_REMEMBERED; n++) {
      i = i === 0 ? CLOSED_STREAMS_REMEMBERED - 1 : i - 1;
      if (this.ids[i] === id) return this.causes[i] as CloseCause;
    }
    return CloseCause.UNKNOWN;
  }
}
