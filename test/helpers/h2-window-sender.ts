/**
 * A scripted HTTP/2 client that pushes data on one stream exactly as far as the server's flow control
 * lets it: it tracks the stream and connection windows from SETTINGS and WINDOW_UPDATE frames, and when
 * both leave it nothing it asks with a PING whether credit is still coming. The PING's answer is written
 * after any WINDOW_UPDATE that data sent before it could have caused, so no credit before the answer means
 * the sender is stalled (no timing margin involved).
 */
import { Flag, FrameType } from '../../src/grpc/h2/codes.js';
import { DEFAULT_WINDOW, type Frame } from '../../src/grpc/h2/frames.js';
import type { HeaderMap } from '../../src/grpc/h2/hpack.js';
import type { FakePeer } from './h2-fake-server.js';

const { DATA, HEADERS, PING, RST_STREAM, WINDOW_UPDATE } = FrameType;
const MAX_FRAME = 16_384;

export interface PushResult {
  /** Bytes of DATA sent on the stream. */
  sent: number;
  /** The server ended the stream: its trailers-only answer (headers with grpc-status). */
  ended?: HeaderMap;
  /** The server reset the stream, with this code. */
  resetCode?: number;
}

export class WindowSender {
  private streamWindow: number;
  private connWindow: number;
  private pings = 0;
  private readonly result: PushResult = { sent: 0 };

  /** `streamWindow` / `connectionWindow`: what the server granted so far (its SETTINGS and first WINDOW_UPDATE). */
  constructor(
    private readonly peer: FakePeer,
    private readonly streamId: number,
    streamWindow: number,
    connectionWindow = DEFAULT_WINDOW,
  ) {
    this.streamWindow = streamWindow;
    this.connWindow = connectionWindow;
  }

  get sent(): number {
    return this.result.sent;
  }

  /** The connection window as this sender last saw it (for the next sender on the same connection). */
  get connectionWindow(): number {
    return this.connWindow;
  }

  /**
   * Sends `data` (in DATA frames of at most 16 KiB) until all of it is out, the server ends or resets the
   * stream, or no credit is left (stalled). Can be called again to continue after more credit is due.
   */
  async push(data: Buffer, endStream = false): Promise<PushResult> {
    let pos = 0;
    while (pos < data.length && !this.over) {
      const room = Math.min(this.streamWindow, this.connWindow, MAX_FRAME, data.length - pos);
      if (room > 0) {
        const last = pos + room === data.length;
        this.peer.send(
          DATA,
          last && endStream ? Flag.END_STREAM : 0,
          this.streamId,
          data.subarray(pos, pos + room),
        );
        pos += room;
        this.result.sent += room;
        this.streamWindow -= room;
        this.connWindow -= room;
        continue;
      }
      if (!(await this.awaitCredit())) break;
    }
    return { ...this.result };
  }

  /**
   * Waits until the server has read everything sent (a PING answered) and what it answered to that has
   * arrived (a second PING: stream frames may follow an answer written in the same turn).
   */
  async settle(): Promise<PushResult> {
    await this.awaitCredit();
    await this.awaitCredit();
    return { ...this.result };
  }

  /** The stream ended by the server (status or reset). */
  private get over(): boolean {
    return this.result.ended !== undefined || this.result.resetCode !== undefined;
  }

  /** PINGs and reads frames up to its answer; true if credit (or the stream's end) arrived meanwhile. */
  private async awaitCredit(): Promise<boolean> {
    const id = Buffer.alloc(8);
    id.writeUInt32BE(++this.pings, 4);
    this.peer.send(PING, 0, 0, id);
    await this.peer.next((f) => {
      this.observe(f);
      return f.type === PING && (f.flags & Flag.ACK) !== 0 && f.payload.equals(id);
    }, 10_000);
    return this.over || (this.streamWindow > 0 && this.connWindow > 0);
  }

  private observe(f: Frame): void {
    if (f.type === WINDOW_UPDATE) {
      const increment = f.payload.readUInt32BE(0) & 0x7fffffff;
      if (f.streamId === 0) this.connWindow += increment;
      else if (f.streamId === this.streamId) this.streamWindow += increment;
    } else if (f.streamId === this.streamId && f.type === HEADERS && (f.flags & Flag.END_STREAM) !== 0) {
      this.result.ended = this.peer.decoder.decode(f.payload).headers;
    } else if (f.streamId === this.streamId && f.type === RST_STREAM && !this.over) {
      this.result.resetCode = f.payload.readUInt32BE(0);
    }
  }
}
