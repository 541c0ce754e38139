/**
 * The output side of a connection: frames are queued and leave in exactly one socket write per
 * event-loop turn (a whole unary answer - headers, message, trailers - in one TLS record). Write
 * callbacks run once their bytes are handed to the socket, or after 'drain' when it was full. Output
 * that does not drain is watched by a WriteStallWatch (write-stall.ts).
 */
import type { Duplex } from 'node:stream';
import type { Clock } from '../../core/clock.js';
import type { AbuseGuards } from './abuse-guards.js';
import { WriteStallWatch } from './write-stall.js';

export type WriteCallback = (err?: Error) => void;

/** What the writer asks of its connection. */
export interface WriterSource {
  /** Moves queued stream data into frames as far as the windows allow (only while the socket has room). */
  fill(): void;
  /** Streams have data waiting: after 'drain' it is worth another flush. */
  hasWaitingData(): boolean;
  /** Data waits for the connection's send window (only the peer's WINDOW_UPDATE lets it go). */
  blockedOnConnectionWindow(): boolean;
}

/** The write-stall deadline: output that does not drain for `ms` ends the connection (`onStall`). */
export interface StallPolicy {
  clock: Clock;
  ms: number;
  onStall: (stalledMs: number) => void;
}

export class FrameWriter {
  private out: Buffer[] = [];
  /** Bytes in `out`. */
  private outBytes = 0;
  private afterWriteCallbacks: WriteCallback[] = [];
  private drainWaiters: WriteCallback[] = [];
  private flushScheduled = false;
  private stopped = false;
  /** Bytes of replies the peer provoked, queued since the socket last had room. */
  private replyBytes = 0;
  /** Socket writes the transport has not completed yet. */
  private unfinishedWrites = 0;
  /** A write found the socket full, and it has not drained since. */
  private backlog = false;
  private readonly stall: WriteStallWatch;
  private readonly flushLater = (): void => this.flush();
  private readonly onWritten = (): void => {
    this.unfinishedWrites--;
    // Replies written while data waits for the connection window say nothing of that data.
    if (this.backlog || !this.source.blockedOnConnectionWindow()) this.stall.progress();
  };

  constructor(
    private readonly socket: Duplex,
    private readonly source: WriterSource,
    private readonly guards: AbuseGuards,
    stall: StallPolicy,
  ) {
    const output = {
      waiting: () => this.unfinishedWrites > 0 || this.source.blockedOnConnectionWindow(),
    };
    this.stall = new WriteStallWatch(stall.clock, stall.ms, output, stall.onStall);
    socket.on('drain', () => {
      this.backlog = false;
      this.replyBytes = 0;
      for (const cb of this.drainWaiters.splice(0)) cb();
      if (this.source.hasWaitingData()) this.scheduleFlush();
    });
  }

  /** The socket's buffer is full: data stays queued until 'drain'. */
  get backedUp(): boolean {
    return this.socket.writableNeedDrain;
  }

  /** Output in frames not yet taken by the transport: queued here, or in the socket's buffer. */
  get pendingBytes(): number {
    return this.outBytes + this.socket.writableLength;
  }

  /** Queues bytes for the next flush, which the caller schedules (or runs). */
  push(bytes: Buffer): void {
    this.out.push(bytes);
    this.outBytes += bytes.length;
  }

  /** Queues a frame and schedules a flush. */
  enqueue(frame: Buffer): void {
    this.push(frame);
    this.scheduleFlush();
  }

  /**
   * A frame the peer made us send (PING and SETTINGS acknowledgements, refusals): a peer that provokes
   * them without reading would make our output grow without end (AbuseGuards.checkUnreadReplies).
   */
  enqueueReply(frame: Buffer): void {
    this.replyBytes += frame.length;
    this.guards.checkUnreadReplies(this.replyBytes, this.socket.writableNeedDrain);
    this.enqueue(frame);
  }

  /** Stream data left in DATA frames: output moves although the socket may not have backed up. */
  dataSent(): void {
    this.stall.progress();
  }

  /** Runs `callback` once the bytes queued so far are handed to the socket. */
  afterWrite(callback: WriteCallback): void {
    this.afterWriteCallbacks.push(callback);
  }

  scheduleFlush(): void {
    if (this.flushScheduled || this.stopped) return;
    this.flushScheduled = true;
    setImmediate(this.flushLater);
  }

  /** Fills DATA frames as far as the windows allow, then writes everything queued at once. */
  flush(): void {
    this.flushScheduled = false;
    if (this.stopped) return;
    // While the socket is backed up, data stays queued (bounded by the writers' backpressure) until 'drain'.
    if (!this.socket.writableNeedDrain) this.source.fill();
    if (this.out.length === 0) return this.stall.arm();
    const bytes = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    this.outBytes = 0;
    const callbacks = this.afterWriteCallbacks;
    this.afterWriteCallbacks = [];
    this.unfinishedWrites++;
    const flushed = this.socket.write(bytes, this.onWritten);
    if (!flushed) this.backlog = true;
    this.stall.arm();
    if (flushed) {
      this.replyBytes = 0;
      for (const cb of callbacks) cb();
    } else {
      this.drainWaiters.push(...callbacks);
    }
  }

  /** No more flushes (the connection is gone); fail() then reports it to the waiting callbacks. */
  stop(): void {
    this.stopped = true;
    this.stall.stop();
  }

  fail(err: Error): void {
    for (const cb of [...this.afterWriteCallbacks.splice(0), ...this.drainWaiters.splice(0)]) cb(err);
  }
}
