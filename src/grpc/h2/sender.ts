/**
 * The sending side of a connection's streams: header blocks become HEADERS and CONTINUATION frames, and
 * queued data DATA frames, as far as the connection's and each stream's send windows and the peer's
 * frame size allow. Frames go to the FrameWriter, which calls fill() right before each socket write.
 */
import type { AbuseGuards } from './abuse-guards.js';
import type { FlowWindow } from './flow-control.js';
import { Flag, FrameType } from './codes.js';
import { frameHeader } from './frames.js';
import { STREAM_HIGH_WATER } from './limits.js';
import type { PeerSettings } from './peer-settings.js';
import type { H2Stream } from './stream.js';
import type { FrameWriter, WriterSource } from './writer.js';

export class StreamSender implements WriterSource {
  /** Streams that have queued items; those blocked on a window stay until a WINDOW_UPDATE frees them. */
  private readonly sendable = new Set<H2Stream>();

  constructor(
    private readonly writer: FrameWriter,
    /** The connection's window (its send side). */
    private readonly connectionFlow: FlowWindow,
    /** For the peer's SETTINGS_MAX_FRAME_SIZE. */
    private readonly peer: PeerSettings,
    private readonly guards: AbuseGuards,
    /** Our END_STREAM on `stream` went to the writer. */
    private readonly onLocalEnd: (stream: H2Stream) => void,
  ) {}

  /** See H2Connection.write(). */
  queueData(stream: H2Stream, data: Buffer, end: boolean, done?: (err?: Error) => void): boolean {
    if (stream.localEnded || stream.queue.at(-1)?.end) {
      done?.(new Error('stream closed'));
      return false;
    }
    stream.queue.push(done ? { data, end, done } : { data, end });
    stream.queuedBytes += data.length;
    this.queued(stream);
    return stream.queuedBytes < STREAM_HIGH_WATER && !this.writer.backedUp;
  }

  /** queueData() as a promise: resolves at once while the stream can take more, otherwise once flushed. */
  queueDataAsync(stream: H2Stream, data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      let waiting = false;
      let early: Error | null | undefined; // the callback ran before queueData() returned
      const more = this.queueData(stream, data, false, (err) => {
        if (waiting) return err ? reject(err) : resolve();
        early = err ?? null;
      });
      if (early instanceof Error) return reject(early);
      if (more || early === null) return resolve();
      waiting = true;
    });
  }

  /** See H2Connection.sendHeaders(). */
  queueHeaders(stream: H2Stream, block: Buffer, end: boolean): void {
    if (stream.localEnded || stream.queue.at(-1)?.end) return;
    stream.headersQueued = true;
    stream.queue.push({ data: block, end, headers: true });
    this.queued(stream);
  }

  /** Something was queued on `stream`: it goes out at the next flush once it has an id. */
  private queued(stream: H2Stream): void {
    if (stream.state === 'idle') return;
    this.sendable.add(stream);
    this.writer.scheduleFlush();
  }

  /** HEADERS, plus CONTINUATION frames when the block exceeds the peer's frame size. */
  pushHeaders(streamId: number, block: Buffer, endStream: boolean): void {
    this.guards.sentStreamFrames = true;
    const max = this.peer.maxFrame;
    const first = Math.min(block.length, max);
    const flags = (first === block.length ? Flag.END_HEADERS : 0) | (endStream ? Flag.END_STREAM : 0);
    this.writer.push(frameHeader(first, FrameType.HEADERS, flags, streamId));
    this.writer.push(block.subarray(0, first));
    for (let pos = first; pos < block.length; pos += max) {
      const n = Math.min(max, block.length - pos);
      const last = pos + n === block.length;
      this.writer.push(frameHeader(n, FrameType.CONTINUATION, last ? Flag.END_HEADERS : 0, streamId));
      this.writer.push(block.subarray(pos, pos + n));
    }
  }

  /** The stream's queue may go out at the next flush (if it has anything queued). */
  markSendable(stream: H2Stream): void {
    if (stream.queue.length > 0) this.sendable.add(stream);
  }

  forget(stream: H2Stream): void {
    this.sendable.delete(stream);
  }

  /** Stream data queued and not yet in frames (the streams that can send; an idle one has no id yet). */
  queuedBytes(): number {
    let n = 0;
    for (const stream of this.sendable) n += stream.queuedBytes;
    return n;
  }

  hasWaitingData(): boolean {
    return this.sendable.size > 0;
  }

  blockedOnConnectionWindow(): boolean {
    return this.connectionFlow.sendable <= 0 && this.sendable.size > 0;
  }

  fill(): void {
    const windowBefore = this.connectionFlow.sendable;
    for (const stream of this.sendable) {
      this.fillStream(stream);
      if (stream.queue.length === 0 || stream.closed) this.sendable.delete(stream);
    }
    if (this.connectionFlow.sendable < windowBefore) this.writer.dataSent();
  }

  private fillStream(stream: H2Stream): void {
    while (stream.queue.length > 0) {
      const item = stream.queue[0]!;
      if (item.headers) {
        stream.queue.shift();
        this.pushHeaders(stream.id, item.data, item.end);
        if (item.end) return this.onLocalEnd(stream);
        continue;
      }
      const room = Math.min(this.connectionFlow.sendable, stream.flow.sendable, this.peer.maxFrame);
      if (item.data.length > 0 && room <= 0) return;
      const n = Math.min(item.data.length, room);
      const last = n === item.data.length;
      const endStream = last && item.end;
      this.writer.push(frameHeader(n, FrameType.DATA, endStream ? Flag.END_STREAM : 0, stream.id));
      this.guards.sentStreamFrames = true;
      if (n > 0) this.writer.push(item.data.subarray(0, n));
      this.connectionFlow.consumeSend(n);
      stream.flow.consumeSend(n);
      stream.queuedBytes -= n;
      if (!last) {
        item.data = item.data.subarray(n);
        continue;
      }
      stream.queue.shift();
      if (item.done) this.writer.afterWrite(item.done);
      if (endStream) return this.onLocalEnd(stream);
    }
  }
}
