/**
 * One HTTP/2 connection (RFC 9113), client or server side, written for gRPC's needs instead of node:http2:
 * one socket write per event-loop turn for all pending frames, no per-stream Duplex objects, header
 * blocks built by the caller. Implements stream multiplexing, both directions of flow control, SETTINGS,
 * PING, GOAWAY, RST_STREAM and CONTINUATION. Every buffer is bounded: frames by our MAX_FRAME_SIZE, header
 * blocks by MAX_HEADER_BLOCK_BYTES and MAX_CONTINUATION_FRAMES, queued stream openings by
 * MAX_QUEUED_STREAMS, streams by MAX_ACTIVE_STREAMS, and data received per stream and per connection by
 * the windows we grant.
 *
 * This file is the connection's API and lifecycle (open, going away, closed): it composes the parts:
 * InboundFrames (inbound.ts: each received frame checked, the connection's own handled), Streams
 * (streams.ts: the streams, their lifecycle and their frames; H2Stream in stream.ts; received data in
 * received-data.ts), FrameWriter (writer.ts: the output queue, one write per turn; its stall deadline in
 * write-stall.ts), StreamSender (sender.ts: HEADERS and DATA out), FlowWindow (flow-control.ts),
 * HeaderBlockReader (header-block.ts),
 * PeerSettings (peer-settings.ts), AbuseGuards (abuse-guards.ts), PingTracker (pings.ts), the preface
 * (preface.ts) and the errors (errors.ts); codes.ts and frames.ts hold the wire format.
 */
import type { Duplex } from 'node:stream';
import { systemClock, type Clock } from '../../core/clock.js';
import { AbuseGuards, type PingPolicy } from './abuse-guards.js';
import { BufferBudget, PROCESS_BUFFER_BUDGET } from './buffer-budget.js';
import { ConnectionError, ProtocolError, StreamError } from './errors.js';
import { FlowWindow } from './flow-control.js';
import { ErrorCode, errorName } from './codes.js';
import { DEFAULT_MAX_FRAME, FrameReader, goawayFrame, type Frame } from './frames.js';
import { HeaderBlockReader } from './header-block.js';
import { InboundFrames } from './inbound.js';
import {
  CONNECTION_WINDOW,
  END_GRACE_MS,
  MAX_CONNECTION_BUFFERED_BYTES,
  MAX_CONNECTION_OUTPUT_BYTES,
  WRITE_STALL_MS,
} from './limits.js';
import { PeerSettings } from './peer-settings.js';
import { ourPreface, PrefaceCheck } from './preface.js';
import { PingTracker } from './pings.js';
import { StreamSender } from './sender.js';
import type { H2Stream, HeaderSource, StreamEvents } from './stream.js';
import { Streams, type Role } from './streams.js';
import { FrameWriter } from './writer.js';
import { countLimitHit } from '../../net/metrics.js';

/**
 * RFC 9113 §5.1 and §6.8 for the whole connection: "going-away" once a GOAWAY was sent or received (or
 * our stream ids are used up): no new streams, open ones finish; "closed" when the socket is gone.
 */
export type ConnectionState = 'open' | 'going-away' | 'closed';

export interface H2ConnectionOptions {
  /** Server side: called for every new stream, after its request headers; set `stream.events` there. */
  onStream?: (stream: H2Stream) => void;
  /** Called when the last open stream ends (true) and when the first one opens (false). */
  onIdle?: (idle: boolean) => void;
  /** Server side: how often the client may PING (grpc-go's keepalive enforcement); no limit without. */
  pingPolicy?: PingPolicy;
  /**
   * Time and timers of the connection (abuse guards, keepalive ping timeout, the close grace); the system
   * clock by default, a manual one in tests (test/helpers/h2-duplex.ts).
   */
  clock?: Clock;
  /** Received data not yet consumed on this connection, at most (default MAX_CONNECTION_BUFFERED_BYTES). */
  maxBufferedBytes?: number;
  /** The budget shared with other connections (default PROCESS_BUFFER_BUDGET; tests give their own). */
  sharedBudget?: BufferBudget;
  /** Output that does not drain for this long ends the connection (default WRITE_STALL_MS). */
  writeStallMs?: number;
  /** Output buffered on this connection, at most (default MAX_CONNECTION_OUTPUT_BYTES). */
  maxOutputBytes?: number;
}

export class H2Connection {
  private readonly reader = new FrameReader(DEFAULT_MAX_FRAME);
  private readonly writer: FrameWriter;
  private readonly sender: StreamSender;
  private readonly guards: AbuseGuards;
  /** The connection's flow control; each stream has its own (H2Stream.flow). */
  private readonly flow = new FlowWindow(CONNECTION_WINDOW);
  private readonly peer: PeerSettings;
  private readonly streams: Streams;
  /** Received data not yet consumed, over this connection's streams; nested in the process's. */
  private readonly budget: BufferBudget;
  private readonly pings = new PingTracker();
  private state: ConnectionState = 'open';
  private readonly preface: PrefaceCheck;
  private closeListeners: ((err?: Error) => void)[] = [];
  private readonly inbound: InboundFrames;
  private readonly onFrameBound = (frame: Frame): void => this.inbound.onFrame(frame);
  private readonly clock: Clock;
  private readonly maxOutputBytes: number;
  /** When bytes last arrived from the peer (clock time): keepalive pings after silence. */
  private receivedAt: number;

  constructor(
    readonly socket: Duplex,
    readonly role: Role,
    options: H2ConnectionOptions = {},
  ) {
    this.preface = new PrefaceCheck(role);
    this.peer = new PeerSettings(role === 'client', (delta) => this.streams.onInitialWindowChange(delta));
    this.clock = options.clock ?? systemClock;
    this.receivedAt = this.clock.now();
    this.maxOutputBytes = options.maxOutputBytes ?? MAX_CONNECTION_OUTPUT_BYTES;
    this.guards = new AbuseGuards(this.clock, options.pingPolicy);
    const source = {
      fill: () => this.sender.fill(),
      hasWaitingData: () => this.sender.hasWaitingData(),
      blockedOnConnectionWindow: () => this.sender.blockedOnConnectionWindow(),
    };
    this.writer = new FrameWriter(socket, source, this.guards, {
      clock: this.clock,
      ms: options.writeStallMs ?? WRITE_STALL_MS,
      onStall: (ms) => this.writeStalled(ms),
    });
    const onLocalEnd = (stream: H2Stream): void => this.streams.localEnd(stream);
    this.sender = new StreamSender(this.writer, this.flow, this.peer, this.guards, onLocalEnd);
    this.budget = new BufferBudget(
      options.maxBufferedBytes ?? MAX_CONNECTION_BUFFERED_BYTES,
      'this connection',
      options.sharedBudget ?? PROCESS_BUFFER_BUDGET,
    );
    this.streams = new Streams(
      role,
      this.peer,
      this.sender,
      this.writer,
      this.guards,
      {
        accepting: () => this.state === 'open',
        goAway: () => this.goAway(),
        endIfIdle: () => this.endIfIdle(),
        onStream: options.onStream,
        onIdle: options.onIdle,
      },
      this.budget,
    );
    const headerBlocks = new HeaderBlockReader((id, block, end) =>
      this.streams.onHeaderBlock(id, block, end),
    );
    const { flow, writer, sender, guards, peer, pings, streams } = this;
    this.inbound = new InboundFrames(
      { headerBlocks, streams, flow, writer, sender, guards, peer, pings },
      {
        closed: () => this.state === 'closed',
        goAway: () => this.goAway(),
        endIfIdle: () => this.endIfIdle(),
      },
    );
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    socket.on('error', (err) => this.terminate(err, endedByPeer(err)));
    socket.on('end', () => this.terminate(new Error('connection closed by peer'), true));
    socket.on('close', () => this.terminate(new Error('connection closed')));
    for (const frame of ourPreface(role)) this.writer.enqueue(frame);
  }

  /** No new streams can be opened (GOAWAY received or sent, stream ids used up, or connection gone). */
  get closed(): boolean {
    return this.state !== 'open';
  }

  get activeStreams(): number {
    return this.streams.size;
  }

  /** Clock time at which the peer last sent anything (the connection's start before that). */
  get lastReceivedAt(): number {
    return this.receivedAt;
  }

  onClose(listener: (err?: Error) => void): void {
    if (this.state === 'closed') listener();
    else this.closeListeners.push(listener);
  }

  /**
   * Opens a stream with a complete header block (HPACK-encoded by the caller, or built when the stream
   * starts) and optionally its first data; `end` half-closes our side after that data. Streams beyond the
   * concurrency limit wait their turn.
   */
  open(headerBlock: HeaderSource, events: StreamEvents, data?: Buffer, end = false): H2Stream {
    if (this.role !== 'client') throw new Error('only the client side opens streams');
    return this.streams.open(headerBlock, events, data, end);
  }

  /**
   * Queues data on a stream; `done` runs once it is handed to the socket (after 'drain' if the socket is
   * full) or fails. Returns false when the caller should wait for `done` before writing more (the stream's
   * queue is above STREAM_HIGH_WATER: the server is not granting window, or the socket is backed up).
   */
  write(stream: H2Stream, data: Buffer, end: boolean, done?: (err?: Error) => void): boolean {
    const refused = this.outputRefusal(data.length);
    if (refused !== undefined) {
      this.reset(stream, ErrorCode.ENHANCE_YOUR_CALM, refused);
      done?.(new Error(refused));
      return false;
    }
    return this.sender.queueData(stream, data, end, done);
  }

  /** Output buffered here: stream data not yet in frames, frames not yet taken by the transport. */
  get bufferedOutput(): number {
    return this.sender.queuedBytes() + this.writer.pendingBytes;
  }

  /**
   * Why `bytes` more output may not be queued (MAX_CONNECTION_OUTPUT_BYTES: the peer does not read what
   * waits already), or undefined when they may.
   */
  outputRefusal(bytes: number): string | undefined {
    const buffered = this.bufferedOutput;
    if (buffered + bytes <= this.maxOutputBytes) return undefined;
    const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
    return (
      `${mib(buffered)} of output already wait for the peer to read them; ${mib(bytes)} more would ` +
      `exceed the connection's ${mib(this.maxOutputBytes)}`
    );
  }

  /** write() as a promise: resolves at once while the stream can take more, otherwise once flushed. */
  send(stream: H2Stream, data: Buffer): Promise<void> {
    const refused = this.outputRefusal(data.length);
    if (refused !== undefined) {
      this.reset(stream, ErrorCode.ENHANCE_YOUR_CALM, refused);
      return Promise.reject(new Error(refused));
    }
    return this.sender.queueDataAsync(stream, data);
  }

  /**
   * The application took `bytes` of the data that `stream` delivered (whole messages, for gRPC): they
   * leave the buffer budgets and go back to the peer as stream window (batched, see FlowWindow).
   */
  consumed(stream: H2Stream, bytes: number): void {
    this.streams.consumed(stream, bytes);
  }

  /** Queues a header block (response headers, or trailers with `end`) behind the data already queued. */
  sendHeaders(stream: H2Stream, block: Buffer, end: boolean): void {
    this.sender.queueHeaders(stream, block, end);
  }

  /**
   * Ends a stream abruptly (deadline, cancel, or a stream error of the peer's): RST_STREAM to the peer,
   * onClose with `code`.
   */
  reset(stream: H2Stream, code: ErrorCode, message: string): void {
    this.streams.reset(stream, code, message);
  }

  /** Sends a PING; the callback gets an error if the connection ends first. */
  ping(callback: (err?: Error) => void): void {
    if (this.state === 'closed') return callback(new Error('connection closed'));
    this.writer.enqueue(this.pings.frame(callback));
  }

  /** A PING that must be answered within `timeoutMs`; otherwise (or if the PING fails) the connection ends. */
  keepalive(timeoutMs: number): void {
    if (this.state === 'closed') return;
    const timer = this.clock.setTimeout(
      () => this.destroy(new Error('keepalive ping not answered')),
      timeoutMs,
    );
    timer.unref();
    this.ping((err) => {
      this.clock.clearTimeout(timer);
      if (err) this.destroy(err);
    });
  }

  /** Graceful: no new streams; the socket ends when the open ones have finished. */
  close(): void {
    if (this.state === 'closed') return;
    if (this.state === 'open') {
      this.goAway();
      this.writer.enqueue(goawayFrame(this.streams.lastPeerId, ErrorCode.NO_ERROR));
      this.streams.finishWaiting(new StreamError(ErrorCode.REFUSED_STREAM, 'connection closing', true));
    }
    this.endIfIdle();
  }

  destroy(err?: Error): void {
    this.terminate(err ?? new Error('connection destroyed'));
    this.socket.destroy();
  }

  // ---- receiving ----

  private onBytes(received: Buffer): void {
    if (this.state === 'closed') return;
    this.receivedAt = this.clock.now();
    const chunk = this.preface.strip(received);
    if (!chunk) {
      // Not HTTP/2 (an HTTP/1 request, garbage): nothing sensible can be answered.
      this.terminate(new Error('client did not send the HTTP/2 preface'));
      this.socket.destroy();
      return;
    }
    if (chunk.length === 0) return;
    try {
      this.reader.push(chunk, this.onFrameBound);
    } catch (e) {
      const err = e instanceof ConnectionError ? e : new ConnectionError(ErrorCode.INTERNAL_ERROR, String(e));
      this.connectionError(err);
    }
  }

  // ---- connection ends ----

  /** open -> going-away: the only way there (closed is terminate()'s). */
  private goAway(): void {
    if (this.state === 'open') this.state = 'going-away';
  }

  private endIfIdle(): void {
    if (this.state !== 'going-away' || !this.streams.empty) return;
    this.writer.flush();
    this.endSocket();
  }

  /** Half-closes so that what was written still arrives; destroys if the peer does not close in time. */
  private endSocket(): void {
    this.socket.end();
    this.clock.setTimeout(() => this.socket.destroy(), END_GRACE_MS).unref();
  }

  private connectionError(err: ConnectionError): void {
    if (this.state === 'closed') return;
    if (err.code === ErrorCode.ENHANCE_YOUR_CALM) countLimitHit('h2_flood', 'http2');
    this.writer.push(goawayFrame(this.streams.lastPeerId, err.code, err.message));
    this.writer.flush();
    this.terminate(new ProtocolError(`HTTP/2 protocol error (${errorName(err.code)}): ${err.message}`));
    this.endSocket();
  }

  /**
   * The peer took none of our output for `ms` (WriteStallWatch). The GOAWAY is queued behind what the
   * peer did not read, so it arrives only if the peer reads again before the socket is destroyed: at once
   * when the socket is backed up, after END_GRACE_MS when only the connection window held data back.
   */
  private writeStalled(ms: number): void {
    if (this.state === 'closed') return;
    const message = `the peer read none of our output for ${Math.round(ms / 1000)} s`;
    this.writer.push(goawayFrame(this.streams.lastPeerId, ErrorCode.ENHANCE_YOUR_CALM, message));
    const backedUp = this.writer.backedUp;
    this.writer.flush();
    this.terminate(new ProtocolError(`HTTP/2 write stalled: ${message}`));
    if (backedUp) this.socket.destroy();
    else this.endSocket();
  }

  /**
   * The connection is gone: every stream, queued call and ping fails; close listeners run once. `byPeer`:
   * the peer or the transport ended it (see StreamError.lostByPeer), not one of our own timeouts.
   */
  private terminate(err: Error, byPeer = false): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.writer.stop();
    // Calls still waiting for a stream were never sent: the peer provably did not process them.
    const unsent = `connection lost before the call was sent (${err.message})`;
    this.streams.finishWaiting(new StreamError(ErrorCode.REFUSED_STREAM, unsent, true, true));
    const failure = new StreamError(ErrorCode.INTERNAL_ERROR, err.message, false, true, byPeer);
    this.streams.finishAll(failure);
    this.pings.fail(err);
    this.writer.fail(err);
    const listeners = this.closeListeners;
    this.closeListeners = [];
    for (const l of listeners) l(err);
  }
}

/** Socket errors that are the peer's end of the connection going away (a TCP reset), not a local decision. */
const PEER_ENDED_CODES = new Set(['ECONNRESET', 'EPIPE']);

function endedByPeer(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code !== undefined && PEER_ENDED_CODES.has(code);
}
