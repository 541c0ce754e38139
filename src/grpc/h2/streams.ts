/**
 * The streams of one connection (RFC 9113 §5.1): those open by id, our calls waiting for a slot (client
 * side), which ids are in use, the frames addressed to a stream once the connection has checked them,
 * and what follows when a stream opens, half-closes or ends (H2Stream's own state changes, plus their
 * consequences: RST_STREAM to stop the peer, waiting calls started, the connection told it is idle).
 * What received data holds until it is consumed is received-data.ts's.
 */
import type { AbuseGuards } from './abuse-guards.js';
import { CloseCause, ClosedStreams } from './closed-streams.js';
import type { BufferBudget } from './buffer-budget.js';
import { ConnectionError, StreamError } from './errors.js';
import { ErrorCode, errorName, type PeerErrorCode } from './codes.js';
import { priorityProblem, rstStreamFrame } from './frames.js';
import type { DecodedBlock } from './hpack.js';
import { MAX_ACTIVE_STREAMS, MAX_HEADER_LIST_BYTES, MAX_QUEUED_STREAMS, MAX_STREAM_ID } from './limits.js';
import type { PeerSettings } from './peer-settings.js';
import { ReceivedData } from './received-data.js';
import { contentLength, requestProblem, trailersProblem } from './request-headers.js';
import { INTERIM, responseBlockProblem } from './response-headers.js';
import type { StreamSender } from './sender.js';
import { H2Stream, NO_EVENTS, type HeaderSource, type StreamEvents } from './stream.js';
import type { FrameWriter } from './writer.js';

export type Role = 'client' | 'server';

const EMPTY = Buffer.alloc(0);

/** What the streams need from their connection and the connection's user. */
export interface StreamsHooks {
  /** New streams may start (the connection is neither going away nor closed). */
  accepting(): boolean;
  /** Our stream ids are used up: the connection goes away. */
  goAway(): void;
  /** A stream ended: a connection going away may now end. */
  endIfIdle(): void;
  /** Server side: a new stream, after its request headers. */
  onStream?: (stream: H2Stream) => void;
  /** The last open stream ended (true), the first one opened (false). */
  onIdle?: (idle: boolean) => void;
}

/**
 * A request header list above the MAX_HEADER_LIST_BYTES we announced: the block had to be decoded
 * whole all the same (HPACK state), so a peer that keeps sending them (zero-length headers, CVE-2019-9516;
 * HPACK bombs) would cost a full decode per stream; it ends the connection instead.
 */
function oversizedRequest(): ConnectionError {
  return new ConnectionError(
    ErrorCode.ENHANCE_YOUR_CALM,
    `request header list above ${MAX_HEADER_LIST_BYTES} bytes`,
  );
}

export class Streams {
  private readonly byId = new Map<number, H2Stream>();
  /** Client side: calls waiting for a stream (MAX_CONCURRENT_STREAMS). */
  private readonly waiting: H2Stream[] = [];
  /** Client side: the id of our next stream. */
  private nextId = 1;
  /** Server side: the highest stream id the client opened (GOAWAY's last stream id). */
  lastPeerId = 0;
  private readonly closedStreams = new ClosedStreams();
  private readonly received: ReceivedData;

  constructor(
    private readonly role: Role,
    private readonly peer: PeerSettings,
    private readonly sender: StreamSender,
    private readonly writer: FrameWriter,
    private readonly guards: AbuseGuards,
    private readonly hooks: StreamsHooks,
    /** Received data not yet consumed, over all streams of the connection (and, through it, the process). */
    budget: BufferBudget,
  ) {
    this.received = new ReceivedData(writer, budget, (stream, code, message) =>
      this.reset(stream, code, message),
    );
  }

  get size(): number {
    return this.byId.size;
  }

  /** No stream open and no call waiting. */
  get empty(): boolean {
    return this.byId.size === 0 && this.waiting.length === 0;
  }

  /** Client side: a new call; it starts at once, or waits while the concurrency limit is reached. */
  open(headerBlock: HeaderSource, events: StreamEvents, data: Buffer | undefined, end: boolean): H2Stream {
    const stream = new H2Stream(headerBlock, events);
    if (!this.hooks.accepting()) throw new StreamError(ErrorCode.REFUSED_STREAM, 'connection closing', true);
    if (data !== undefined || end) {
      stream.queue.push({ data: data ?? Buffer.alloc(0), end });
      stream.queuedBytes += data?.length ?? 0;
    }
    if (!this.hasRoom()) {
      if (this.waiting.length >= MAX_QUEUED_STREAMS) {
        throw new StreamError(ErrorCode.REFUSED_STREAM, 'too many calls waiting for this connection', true);
      }
      this.waiting.push(stream);
      return stream;
    }
    this.start(stream);
    return stream;
  }

  /** Client side: calls that were waiting start as far as the limits now allow. */
  startWaiting(): void {
    while (this.waiting.length > 0 && this.hasRoom() && this.hooks.accepting()) {
      this.start(this.waiting.shift()!);
    }
  }

  // ---- frames for a stream (connection-level checks done) ----

  /** DATA within the connection's window: `length` counts padding, `data` is without. */
  onData(id: number, data: Buffer, length: number, endStream: boolean): void {
    const stream = this.byId.get(id);
    if (!stream) return this.onClosedStreamFrame(id, 'DATA');
    if (stream.state === 'half-closed-remote') {
      return this.resetForPeerError(stream, ErrorCode.STREAM_CLOSED, 'DATA after end of stream');
    }
    if (!stream.flow.receive(length)) {
      return this.resetForPeerError(
        stream,
        ErrorCode.FLOW_CONTROL_ERROR,
        'peer sent more than the stream window',
      );
    }
    if (this.role === 'client' && !stream.headersReceived) {
      return this.resetForPeerError(
        stream,
        ErrorCode.PROTOCOL_ERROR,
        'malformed response: DATA before the headers',
      );
    }
    if (!stream.countBody(data.length, endStream)) {
      return this.resetForPeerError(stream, ErrorCode.PROTOCOL_ERROR, 'DATA does not match content-length');
    }
    if (length > data.length) this.received.padding(stream, length - data.length, endStream);
    if (data.length > 0) this.received.deliver(stream, data, endStream);
    if (endStream && !stream.closed) this.remoteEnd(stream);
  }

  /** The application consumed `bytes` of the stream's data (ReceivedData.consumed). */
  consumed(stream: H2Stream, bytes: number): void {
    this.received.consumed(stream, bytes);
  }

  /** A complete header block: a new stream (server side), or headers or trailers of an open one. */
  onHeaderBlock(id: number, decoded: DecodedBlock, endStream: boolean): void {
    const stream = this.byId.get(id);
    if (!stream) {
      if (this.role === 'server' && id % 2 === 1 && id > this.lastPeerId) {
        return this.accept(id, decoded, endStream);
      }
      return this.onClosedStreamFrame(id, 'HEADERS');
    }
    if (stream.state === 'half-closed-remote') {
      return this.resetForPeerError(stream, ErrorCode.STREAM_CLOSED, 'HEADERS after end of stream');
    }
    if (decoded.oversized) {
      if (this.role === 'server') throw oversizedRequest();
      return this.resetForPeerError(
        stream,
        ErrorCode.PROTOCOL_ERROR,
        `header list above ${MAX_HEADER_LIST_BYTES} bytes`,
      );
    }
    if (this.role === 'server') {
      // The request's second header block: trailers (RFC 9113 §8.1).
      const problem = decoded.malformed ?? trailersProblem(decoded, endStream);
      if (problem !== undefined) return this.resetForPeerError(stream, ErrorCode.PROTOCOL_ERROR, problem);
      if (stream.bodyLeft > 0) {
        return this.resetForPeerError(stream, ErrorCode.PROTOCOL_ERROR, 'DATA does not match content-length');
      }
    } else {
      // Clients must not accept a malformed response (RFC 9113 §8.1.1); 1xx responses carry nothing for gRPC.
      const problem = decoded.malformed ?? responseBlockProblem(stream, decoded, endStream);
      if (problem === INTERIM) return;
      if (problem !== undefined) {
        return this.reset(stream, ErrorCode.PROTOCOL_ERROR, `malformed response: ${problem}`);
      }
    }
    stream.events.onHeaders(decoded.headers, endStream);
    if (endStream && !stream.closed) this.remoteEnd(stream);
  }

  onReset(id: number, code: PeerErrorCode): void {
    const stream = this.byId.get(id);
    if (!stream) return this.checkKnown(id);
    const retryable = code === ErrorCode.REFUSED_STREAM;
    const err = new StreamError(code, `stream reset by server (${errorName(code)})`, retryable);
    this.finish(stream, err, CloseCause.RESET_BY_PEER);
  }

  /**
   * PRIORITY (ignored, RFC 9113 §5.3.2, but checked: frames.ts priorityProblem): an error resets the
   * stream if open; otherwise the connection ends, as RST_STREAM cannot be sent on an idle stream (§5.1).
   */
  onPriority(id: number, payload: Buffer): void {
    const problem = priorityProblem(id, payload);
    if (!problem) return;
    const stream = this.byId.get(id);
    if (!stream) throw new ConnectionError(problem.code, problem.message);
    this.resetForPeerError(stream, problem.code, problem.message);
  }

  /** WINDOW_UPDATE of `increment` (0 included: a stream error) for a stream. */
  onWindowUpdate(id: number, increment: number): void {
    const stream = this.byId.get(id);
    if (!stream) return this.checkKnown(id);
    if (increment === 0)
      return this.resetForPeerError(stream, ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
    if (!stream.flow.creditSend(increment)) {
      return this.resetForPeerError(stream, ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow');
    }
    if (stream.queue.length > 0) {
      this.sender.markSendable(stream);
      this.writer.scheduleFlush();
    }
  }

  /** The peer changed its initial window: every open stream's send window moves with it. */
  onInitialWindowChange(delta: number): void {
    for (const s of this.byId.values()) {
      if (!s.flow.creditSend(delta)) {
        throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow');
      }
      this.sender.markSendable(s);
    }
  }

  /** Server side: a new stream from the client, refused when over the limit or while going away. */
  private accept(id: number, decoded: DecodedBlock, endStream: boolean): void {
    this.lastPeerId = id;
    if (!this.hooks.accepting()) return this.refuse(id, ErrorCode.REFUSED_STREAM);
    if (this.byId.size >= MAX_ACTIVE_STREAMS) return this.refuse(id, ErrorCode.REFUSED_STREAM);
    if (decoded.oversized) throw oversizedRequest();
    // A malformed request never reaches the application (RFC 9113 §8.1.1).
    if ((decoded.malformed ?? requestProblem(decoded)) !== undefined) {
      return this.refuse(id, ErrorCode.PROTOCOL_ERROR);
    }
    const declaredLength = contentLength(decoded.headers);
    if (endStream && declaredLength > 0) return this.refuse(id, ErrorCode.PROTOCOL_ERROR);
    const stream = new H2Stream(EMPTY, NO_EVENTS);
    stream.open(id, this.peer.initialWindow);
    stream.requestHeaders = decoded.headers;
    stream.bodyLeft = declaredLength;
    this.add(stream);
    this.hooks.onStream?.(stream);
    if (endStream && !stream.closed) this.remoteEnd(stream);
  }

  private refuse(id: number, code: ErrorCode): void {
    this.guards.countReset('refused streams');
    this.closedStreams.record(id, CloseCause.RESET_BY_US);
    this.writer.enqueueReply(rstStreamFrame(id, code));
  }

  /** A frame for a stream we do not know: fine if it was closed, a protocol error if it was never opened. */
  private checkKnown(id: number): void {
    const neverOpened =
      this.role === 'client' ? id % 2 === 0 || id >= this.nextId : id % 2 === 0 || id > this.lastPeerId;
    if (neverOpened) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `frame for stream ${id} that was never opened`);
    }
  }

  /** DATA or HEADERS for a stream that is not open: ClosedStreams.lateFrame decides (RFC 9113 §5.1). */
  private onClosedStreamFrame(id: number, type: 'DATA' | 'HEADERS'): void {
    this.checkKnown(id);
    if (!this.closedStreams.lateFrame(id, type)) return;
    this.guards.countReset('frames on reset streams');
    this.writer.enqueueReply(rstStreamFrame(id, ErrorCode.STREAM_CLOSED));
  }

  // ---- ends ----

  /** Our END_STREAM went out. */
  localEnd(stream: H2Stream): void {
    if (stream.endLocal()) return this.finish(stream, undefined, CloseCause.ENDED);
    // A server that answered before the request ended asks the client to stop sending (RFC 9113 §8.1).
    if (this.role === 'server') this.stopPeer(stream);
  }

  /** The peer's END_STREAM arrived. */
  remoteEnd(stream: H2Stream): void {
    const bothEnded = stream.endRemote();
    stream.events.onEnd?.();
    if (stream.closed) return;
    if (bothEnded) return this.finish(stream, undefined, CloseCause.ENDED);
    // The server answered before we finished sending: stop sending, without error (RFC 9113 §8.1). It
    // ended the stream, so anything it sends on it later is a connection error (ENDED), not ignored.
    if (this.role === 'client') this.stopPeer(stream, CloseCause.ENDED);
  }

  /** Ends a stream abruptly: RST_STREAM with `code` (unless it never started), onClose with the error. */
  reset(stream: H2Stream, code: ErrorCode, message: string): void {
    if (stream.closed) return;
    if (stream.state !== 'idle') this.writer.enqueue(rstStreamFrame(stream.id, code));
    this.finish(stream, new StreamError(code, message), CloseCause.RESET_BY_US);
  }

  /**
   * A stream error of the peer's (RFC 9113 §5.4.2): the stream ends with RST_STREAM, which counts against
   * the reset budget and, as a reply the peer provoked, against its unread replies ("reset flood").
   */
  resetForPeerError(stream: H2Stream, code: ErrorCode, message: string): void {
    if (stream.closed) return;
    this.guards.countReset('stream errors');
    this.writer.enqueueReply(rstStreamFrame(stream.id, code));
    this.finish(stream, new StreamError(code, message), CloseCause.RESET_BY_US);
  }

  /** Ends the streams above `lastId` (a GOAWAY's) and all waiting calls with `err`. */
  finishAbove(lastId: number, err: StreamError): void {
    for (const s of [...this.byId.values()]) if (s.id > lastId) this.finish(s, err);
    this.finishWaiting(err);
  }

  /** The connection is gone: every stream and waiting call ends with `err`. */
  finishAll(err: StreamError): void {
    this.finishAbove(0, err);
  }

  finishWaiting(err: StreamError): void {
    for (const s of this.waiting.splice(0)) this.finish(s, err);
  }

  /**
   * Closes the stream: its queued writes fail, onClose runs once (no error: both sides ended normally).
   * `cause` is remembered for frames that arrive later (none: the whole connection is ending).
   */
  finish(stream: H2Stream, err?: StreamError, cause?: CloseCause): void {
    if (!stream.close()) return;
    if (cause !== undefined && stream.id !== 0) this.closedStreams.record(stream.id, cause);
    this.received.closed(stream);
    if (this.remove(stream)) this.hooks.onIdle?.(true);
    this.sender.forget(stream);
    for (const item of stream.queue.splice(0)) item.done?.(err ?? new Error('stream closed'));
    stream.events.onClose(err);
    this.startWaiting();
    this.hooks.endIfIdle();
  }

  // ---- internals ----

  /** Another stream may open now (our cap and the peer's limit), else a call waits. */
  private hasRoom(): boolean {
    return this.byId.size < Math.min(this.peer.maxStreams, MAX_ACTIVE_STREAMS);
  }

  private start(stream: H2Stream): void {
    if (this.nextId > MAX_STREAM_ID) {
      this.hooks.goAway();
      this.finish(stream, new StreamError(ErrorCode.REFUSED_STREAM, 'stream ids used up', true));
      return;
    }
    stream.open(this.nextId, this.peer.initialWindow);
    this.nextId += 2;
    this.add(stream);
    const block = stream.headerBlock;
    this.sender.pushHeaders(stream.id, typeof block === 'function' ? block() : block, false);
    this.sender.markSendable(stream);
    if (this.nextId > MAX_STREAM_ID) this.hooks.goAway();
    this.writer.scheduleFlush();
  }

  private add(stream: H2Stream): void {
    this.byId.set(stream.id, stream);
    if (this.byId.size === 1) this.hooks.onIdle?.(false);
  }

  /** True if it was the last open stream (the connection is idle). */
  private remove(stream: H2Stream): boolean {
    if (stream.id === 0) {
      const i = this.waiting.indexOf(stream);
      if (i >= 0) this.waiting.splice(i, 1);
      return false;
    }
    return this.byId.delete(stream.id) && this.byId.size === 0;
  }

  private stopPeer(stream: H2Stream, cause: CloseCause = CloseCause.RESET_BY_US): void {
    this.writer.enqueue(rstStreamFrame(stream.id, ErrorCode.NO_ERROR));
    this.finish(stream, undefined, cause);
  }
}
