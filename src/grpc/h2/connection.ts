/**
 * One HTTP/2 connection (RFC 9113), client or server side, written for gRPC's needs instead of node:http2:
 * one socket write per event-loop turn for all pending frames (a whole unary response - headers, message,
 * trailers - leaves in one TLS record), no per-stream Duplex objects, header blocks built by the caller.
 * Implements stream multiplexing, both directions of flow control, SETTINGS, PING, GOAWAY, RST_STREAM and
 * CONTINUATION. Every buffer is bounded: frames by our MAX_FRAME_SIZE, header blocks by
 * MAX_HEADER_BLOCK_BYTES, queued stream openings by MAX_QUEUED_STREAMS, streams by MAX_ACTIVE_STREAMS, and
 * data received per stream and per connection by the windows we grant.
 */
import type { Duplex } from 'node:stream';
import { HpackDecoder, HpackError, type HeaderMap } from './hpack.js';
import {
  CONNECTION_WINDOW,
  END_GRACE_MS,
  MAX_ACTIVE_STREAMS,
  MAX_HEADER_BLOCK_BYTES,
  MAX_HEADER_LIST_BYTES,
  MAX_PENDING_REPLY_BYTES,
  MAX_QUEUED_STREAMS,
  MAX_RESETS_PER_SECOND,
  MAX_STREAM_ID,
  STREAM_HIGH_WATER,
  STREAM_WINDOW,
} from './limits.js';
import { H2Stream, NO_EVENTS, StreamError, type StreamEvents } from './stream.js';
import {
  CLIENT_PREFACE,
  ConnectionError,
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  ErrorCode,
  errorName,
  Flag,
  frameBytes,
  frameHeader,
  FrameReader,
  FrameType,
  goawayFrame,
  MAX_WINDOW,
  Setting,
  settingsFrame,
  u32Frame,
  unpad,
  type Frame,
} from './frames.js';

const EMPTY = Buffer.alloc(0);

export type Role = 'client' | 'server';

/** The connection was ended by us because the peer broke the protocol (or flooded us); worth a warning. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

export class H2Connection {
  private readonly reader = new FrameReader(DEFAULT_MAX_FRAME);
  private readonly decoder = new HpackDecoder(4096, MAX_HEADER_LIST_BYTES);
  private readonly streams = new Map<number, H2Stream>();
  private readonly waiting: H2Stream[] = [];
  private readonly sendable = new Set<H2Stream>();
  private out: Buffer[] = [];
  private afterWrite: ((err?: Error) => void)[] = [];
  private drainWaiters: ((err?: Error) => void)[] = [];
  private flushScheduled = false;
  private nextStreamId = 1;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private peerMaxStreams = MAX_ACTIVE_STREAMS;
  private sendWindow = DEFAULT_WINDOW;
  private recvWindow = CONNECTION_WINDOW;
  private recvUnacked = 0;
  private settingsSeen = false;
  private abuseSecond = 0;
  /** Bytes of replies written since the socket last had room (see reply()). */
  private repliesSinceDrain = 0;
  private abuseCount = 0;
  /** Server side: bytes of the client preface still expected, and the highest stream id the peer opened. */
  private prefaceLeft: number;
  private lastPeerStreamId = 0;
  /** Server side: called for every new stream, after its request headers; set `stream.events` there. */
  onStream?: (stream: H2Stream) => void;
  /** Called when the last open stream ends (true) and when the first one opens (false). */
  onIdle?: (idle: boolean) => void;
  /**
   * Server side, the original's keepalive enforcement: a PING sooner than `minIntervalMs` after the
   * previous one is a strike unless we sent headers or data in between; more than `maxStrikes` strikes
   * end the connection with ENHANCE_YOUR_CALM ("too_many_pings"), as grpc-go does.
   */
  pingPolicy?: { minIntervalMs: number; maxStrikes: number };
  private lastPingAt = 0;
  private pingStrikes = 0;
  private sentStreamFrames = false;
  private continuation?: { streamId: number; parts: Buffer[]; bytes: number; endStream: boolean };
  private goingAway = false;
  private finished = false;
  private pingSeq = 0;
  private readonly pings = new Map<bigint, (err?: Error) => void>();
  private closeListeners: ((err?: Error) => void)[] = [];

  constructor(
    readonly socket: Duplex,
    readonly role: Role,
  ) {
    this.prefaceLeft = role === 'server' ? CLIENT_PREFACE.length : 0;
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    socket.on('drain', () => {
      this.repliesSinceDrain = 0;
      for (const cb of this.drainWaiters.splice(0)) cb();
      if (this.sendable.size > 0) this.scheduleFlush();
    });
    socket.on('error', (err) => this.terminate(err));
    socket.on('end', () => this.terminate(new Error('connection closed by peer')));
    socket.on('close', () => this.terminate(new Error('connection closed')));
    if (role === 'client') this.enqueue(CLIENT_PREFACE);
    const settings: [number, number][] = [
      [Setting.INITIAL_WINDOW_SIZE, STREAM_WINDOW],
      [Setting.MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST_BYTES],
    ];
    if (role === 'client') settings.unshift([Setting.ENABLE_PUSH, 0]);
    else settings.unshift([Setting.MAX_CONCURRENT_STREAMS, MAX_ACTIVE_STREAMS]);
    this.enqueue(settingsFrame(settings));
    this.enqueue(u32Frame(FrameType.WINDOW_UPDATE, 0, CONNECTION_WINDOW - DEFAULT_WINDOW));
  }

  /** No new streams can be opened (GOAWAY received or sent, stream ids used up, or connection gone). */
  get closed(): boolean {
    return this.goingAway || this.finished;
  }

  get activeStreams(): number {
    return this.streams.size;
  }

  onClose(listener: (err?: Error) => void): void {
    if (this.finished) listener();
    else this.closeListeners.push(listener);
  }

  /**
   * Opens a stream with a complete header block (HPACK-encoded by the caller) and optionally its first
   * data; `end` half-closes our side after that data. Streams beyond the concurrency limit wait their turn.
   */
  open(headerBlock: Buffer, events: StreamEvents, data?: Buffer, end = false): H2Stream {
    if (this.role !== 'client') throw new Error('only the client side opens streams');
    const stream = new H2Stream(headerBlock, events);
    if (this.closed) throw new StreamError(ErrorCode.REFUSED_STREAM, 'connection closing', true);
    if (data !== undefined || end) {
      stream.queue.push({ data: data ?? Buffer.alloc(0), end });
      stream.queuedBytes += data?.length ?? 0;
    }
    if (this.streams.size >= Math.min(this.peerMaxStreams, MAX_ACTIVE_STREAMS)) {
      if (this.waiting.length >= MAX_QUEUED_STREAMS) {
        throw new StreamError(ErrorCode.REFUSED_STREAM, 'too many calls waiting for this connection', true);
      }
      this.waiting.push(stream);
      return stream;
    }
    this.start(stream);
    return stream;
  }

  /**
   * Queues data on a stream; `done` runs once it is handed to the socket (after 'drain' if the socket is
   * full) or fails. Returns false when the caller should wait for `done` before writing more (the stream's
   * queue is above STREAM_HIGH_WATER: the server is not granting window, or the socket is backed up).
   */
  write(stream: H2Stream, data: Buffer, end: boolean, done?: (err?: Error) => void): boolean {
    if (stream.closed || stream.localEnded || stream.queue.at(-1)?.end) {
      done?.(new Error('stream closed'));
      return false;
    }
    stream.queue.push(done ? { data, end, done } : { data, end });
    stream.queuedBytes += data.length;
    if (stream.id !== 0) {
      this.sendable.add(stream);
      this.scheduleFlush();
    }
    return stream.queuedBytes < STREAM_HIGH_WATER && !this.socket.writableNeedDrain;
  }

  /** write() as a promise: resolves at once while the stream can take more, otherwise once flushed. */
  send(stream: H2Stream, data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      let waiting = false;
      let early: Error | null | undefined; // the callback ran before write() returned
      const more = this.write(stream, data, false, (err) => {
        if (waiting) return err ? reject(err) : resolve();
        early = err ?? null;
      });
      if (early instanceof Error) return reject(early);
      if (more || early === null) return resolve();
      waiting = true;
    });
  }

  /** Queues a header block (response headers, or trailers with `end`) behind the data already queued. */
  sendHeaders(stream: H2Stream, block: Buffer, end: boolean): void {
    if (stream.closed || stream.localEnded || stream.queue.at(-1)?.end) return;
    stream.headersQueued = true;
    stream.queue.push({ data: block, end, headers: true });
    if (stream.id !== 0) {
      this.sendable.add(stream);
      this.scheduleFlush();
    }
  }

  /**
   * Ends a stream abruptly (deadline, cancel, or a stream error of the peer's): RST_STREAM to the peer,
   * onClose with `code`.
   */
  reset(stream: H2Stream, code: number, message: string): void {
    if (stream.closed) return;
    if (stream.id === 0) {
      const i = this.waiting.indexOf(stream);
      if (i >= 0) this.waiting.splice(i, 1);
    } else {
      this.enqueue(u32Frame(FrameType.RST_STREAM, stream.id, code));
    }
    this.finishStream(stream, new StreamError(code, message));
  }

  /** Sends a PING; the callback gets an error if the connection ends first. */
  ping(callback: (err?: Error) => void): void {
    if (this.finished) return callback(new Error('connection closed'));
    const payload = Buffer.allocUnsafe(8);
    const key = BigInt(++this.pingSeq);
    payload.writeBigUInt64BE(key, 0);
    this.pings.set(key, callback);
    this.enqueue(frameBytes(FrameType.PING, 0, 0, payload));
  }

  /** A PING that must be answered within `timeoutMs`; otherwise (or if the PING fails) the connection ends. */
  keepalive(timeoutMs: number): void {
    if (this.finished) return;
    const timer = setTimeout(() => this.destroy(new Error('keepalive ping not answered')), timeoutMs);
    timer.unref();
    this.ping((err) => {
      clearTimeout(timer);
      if (err) this.destroy(err);
    });
  }

  /** Graceful: no new streams; the socket ends when the open ones have finished. */
  close(): void {
    if (this.finished) return;
    if (!this.goingAway) {
      this.goingAway = true;
      this.enqueue(goawayFrame(this.lastPeerStreamId, ErrorCode.NO_ERROR));
      for (const s of this.waiting.splice(0)) {
        this.finishStream(s, new StreamError(ErrorCode.REFUSED_STREAM, 'connection closing', true));
      }
    }
    this.endIfIdle();
  }

  destroy(err?: Error): void {
    this.terminate(err ?? new Error('connection destroyed'));
    this.socket.destroy();
  }

  // ---- sending ----

  private start(stream: H2Stream): void {
    if (this.nextStreamId > MAX_STREAM_ID) {
      this.goingAway = true;
      this.finishStream(stream, new StreamError(ErrorCode.REFUSED_STREAM, 'stream ids used up', true));
      return;
    }
    stream.id = this.nextStreamId;
    this.nextStreamId += 2;
    stream.sendWindow = this.peerInitialWindow;
    this.streams.set(stream.id, stream);
    if (this.streams.size === 1) this.onIdle?.(false);
    this.pushHeaderFrames(stream.id, stream.headerBlock, false);
    if (stream.queue.length > 0) this.sendable.add(stream);
    if (this.nextStreamId > MAX_STREAM_ID) this.goingAway = true;
    this.scheduleFlush();
  }

  /** HEADERS, plus CONTINUATION frames when the block exceeds the peer's frame size. */
  private pushHeaderFrames(streamId: number, block: Buffer, endStream: boolean): void {
    this.sentStreamFrames = true;
    const first = Math.min(block.length, this.peerMaxFrame);
    const flags = (first === block.length ? Flag.END_HEADERS : 0) | (endStream ? Flag.END_STREAM : 0);
    this.out.push(frameHeader(first, FrameType.HEADERS, flags, streamId));
    this.out.push(block.subarray(0, first));
    for (let pos = first; pos < block.length; pos += this.peerMaxFrame) {
      const n = Math.min(this.peerMaxFrame, block.length - pos);
      const last = pos + n === block.length;
      this.out.push(frameHeader(n, FrameType.CONTINUATION, last ? Flag.END_HEADERS : 0, streamId));
      this.out.push(block.subarray(pos, pos + n));
    }
  }

  /**
   * A frame the peer made us send (PING and SETTINGS acknowledgements, refusals). A peer that keeps
   * provoking them without reading would make our output buffer grow without end: past
   * MAX_PENDING_REPLY_BYTES of replies while the socket is backed up, the connection is closed (the "ping
   * flood" and "settings flood"). Our own data in the buffer does not count.
   */
  private reply(frame: Buffer): void {
    this.repliesSinceDrain += frame.length;
    if (this.repliesSinceDrain > MAX_PENDING_REPLY_BYTES && this.socket.writableNeedDrain) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'peer does not read what it asks for');
    }
    this.enqueue(frame);
  }

  /** Stream resets and refused streams cost work for nothing; a burst of them ends the connection ("rapid reset"). */
  private countAbuse(what: string): void {
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.abuseSecond) {
      this.abuseSecond = second;
      this.abuseCount = 0;
    }
    if (++this.abuseCount > MAX_RESETS_PER_SECOND) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `too many ${what} per second`);
    }
  }

  private enqueue(frame: Buffer): void {
    this.out.push(frame);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.finished) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Moves queued data into DATA frames as far as the windows allow, then writes everything at once. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.finished) return;
    // While the socket is backed up, data stays queued (bounded by the writers' backpressure) until 'drain'.
    if (!this.socket.writableNeedDrain) {
      for (const stream of this.sendable) {
        this.fillData(stream);
        if (stream.queue.length === 0 || stream.closed) this.sendable.delete(stream);
      }
    }
    if (this.out.length === 0) return;
    const bytes = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    const callbacks = this.afterWrite;
    this.afterWrite = [];
    const flushed = this.socket.write(bytes);
    if (flushed) {
      this.repliesSinceDrain = 0;
      for (const cb of callbacks) cb();
    } else {
      this.drainWaiters.push(...callbacks);
    }
  }

  private fillData(stream: H2Stream): void {
    while (stream.queue.length > 0) {
      const item = stream.queue[0]!;
      if (item.headers) {
        stream.queue.shift();
        this.pushHeaderFrames(stream.id, item.data, item.end);
        if (item.end) return this.localEnd(stream);
        continue;
      }
      const room = Math.min(this.sendWindow, stream.sendWindow, this.peerMaxFrame);
      if (item.data.length > 0 && room <= 0) return;
      const n = Math.min(item.data.length, room);
      const last = n === item.data.length;
      const endStream = last && item.end;
      this.out.push(frameHeader(n, FrameType.DATA, endStream ? Flag.END_STREAM : 0, stream.id));
      this.sentStreamFrames = true;
      if (n > 0) this.out.push(item.data.subarray(0, n));
      this.sendWindow -= n;
      stream.sendWindow -= n;
      stream.queuedBytes -= n;
      if (!last) {
        item.data = item.data.subarray(n);
        continue;
      }
      stream.queue.shift();
      if (item.done) this.afterWrite.push(item.done);
      if (endStream) return this.localEnd(stream);
    }
  }

  // ---- receiving ----

  private onBytes(chunk: Buffer): void {
    if (this.finished) return;
    if (this.prefaceLeft > 0) {
      const offset = CLIENT_PREFACE.length - this.prefaceLeft;
      const n = Math.min(this.prefaceLeft, chunk.length);
      if (!chunk.subarray(0, n).equals(CLIENT_PREFACE.subarray(offset, offset + n))) {
        // Not HTTP/2 (an HTTP/1 request, garbage): nothing sensible can be answered.
        this.terminate(new Error('client did not send the HTTP/2 preface'));
        this.socket.destroy();
        return;
      }
      this.prefaceLeft -= n;
      chunk = chunk.subarray(n);
      if (chunk.length === 0) return;
    }
    try {
      this.reader.push(chunk, (frame) => this.onFrame(frame));
    } catch (e) {
      const err = e instanceof ConnectionError ? e : new ConnectionError(ErrorCode.INTERNAL_ERROR, String(e));
      this.connectionError(err);
    }
  }

  private onFrame(f: Frame): void {
    if (this.finished) return;
    if (!this.settingsSeen && f.type !== FrameType.SETTINGS) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'the preface must start with SETTINGS');
    }
    if (
      this.continuation &&
      (f.type !== FrameType.CONTINUATION || f.streamId !== this.continuation.streamId)
    ) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'header block interrupted by another frame');
    }
    switch (f.type) {
      case FrameType.DATA:
        return this.onData(f);
      case FrameType.HEADERS:
        return this.onHeadersFrame(f);
      case FrameType.CONTINUATION:
        return this.onContinuation(f);
      case FrameType.RST_STREAM:
        return this.onReset(f);
      case FrameType.SETTINGS:
        return this.onSettings(f);
      case FrameType.PING:
        return this.onPing(f);
      case FrameType.GOAWAY:
        return this.onGoaway(f);
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(f);
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE although push is disabled');
      default:
        // PRIORITY and unknown frame types are ignored (RFC 9113 §5.5).
        return;
    }
  }

  private onData(f: Frame): void {
    if (f.streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    const length = f.payload.length;
    this.recvWindow -= length;
    if (this.recvWindow < 0) {
      throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'peer sent more than the connection window');
    }
    this.recvUnacked += length;
    if (this.recvUnacked >= CONNECTION_WINDOW / 2) {
      this.enqueue(u32Frame(FrameType.WINDOW_UPDATE, 0, this.recvUnacked));
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
    }
    const data = unpad(f);
    const stream = this.streams.get(f.streamId);
    if (!stream) return this.checkKnown(f.streamId);
    if (stream.remoteEnded) return this.reset(stream, ErrorCode.STREAM_CLOSED, 'DATA after end of stream');
    stream.recvWindow -= length;
    if (stream.recvWindow < 0) {
      return this.reset(stream, ErrorCode.FLOW_CONTROL_ERROR, 'peer sent more than the stream window');
    }
    const endStream = (f.flags & Flag.END_STREAM) !== 0;
    stream.recvUnacked += length;
    if (!endStream && stream.recvUnacked >= STREAM_WINDOW / 2) {
      this.enqueue(u32Frame(FrameType.WINDOW_UPDATE, stream.id, stream.recvUnacked));
      stream.recvWindow += stream.recvUnacked;
      stream.recvUnacked = 0;
    }
    if (data.length > 0) stream.events.onData(data);
    if (endStream && !stream.closed) this.remoteEnd(stream);
  }

  private onHeadersFrame(f: Frame): void {
    if (f.streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    let fragment = unpad(f);
    if (f.flags & Flag.PRIORITY) fragment = fragment.subarray(5);
    const endStream = (f.flags & Flag.END_STREAM) !== 0;
    if (f.flags & Flag.END_HEADERS) return this.onHeaderBlock(f.streamId, fragment, endStream);
    this.continuation = {
      streamId: f.streamId,
      parts: [Buffer.from(fragment)],
      bytes: fragment.length,
      endStream,
    };
  }

  private onContinuation(f: Frame): void {
    const c = this.continuation;
    if (!c) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION without HEADERS');
    c.bytes += f.payload.length;
    if (c.bytes > MAX_HEADER_BLOCK_BYTES) {
      throw new ConnectionError(
        ErrorCode.ENHANCE_YOUR_CALM,
        `header block above ${MAX_HEADER_BLOCK_BYTES} bytes`,
      );
    }
    c.parts.push(Buffer.from(f.payload));
    if ((f.flags & Flag.END_HEADERS) === 0) return;
    this.continuation = undefined;
    this.onHeaderBlock(c.streamId, Buffer.concat(c.parts), c.endStream);
  }

  private onHeaderBlock(streamId: number, block: Buffer, endStream: boolean): void {
    let decoded;
    try {
      // Always decoded, even for a stream we already closed: the HPACK table must stay in step.
      decoded = this.decoder.decode(block);
    } catch (e) {
      throw new ConnectionError(
        ErrorCode.COMPRESSION_ERROR,
        `bad header block: ${(e as HpackError).message}`,
      );
    }
    const stream = this.streams.get(streamId);
    if (!stream) {
      if (this.role === 'server' && streamId % 2 === 1 && streamId > this.lastPeerStreamId) {
        return this.acceptStream(streamId, decoded.headers, decoded.oversized, endStream);
      }
      return this.checkKnown(streamId);
    }
    if (stream.remoteEnded) return this.reset(stream, ErrorCode.STREAM_CLOSED, 'HEADERS after end of stream');
    if (decoded.oversized) {
      return this.reset(stream, ErrorCode.PROTOCOL_ERROR, `header list above ${MAX_HEADER_LIST_BYTES} bytes`);
    }
    const status = decoded.headers[':status'];
    // Informational responses (1xx) precede the real one and carry nothing for gRPC.
    if (!endStream && status !== undefined && status.length === 3 && status[0] === '1') return;
    stream.events.onHeaders(decoded.headers, endStream);
    if (endStream && !stream.closed) this.remoteEnd(stream);
  }

  /** Server side: a new stream from the client, refused when over the limit or while going away. */
  private acceptStream(streamId: number, headers: HeaderMap, oversized: boolean, endStream: boolean): void {
    this.lastPeerStreamId = streamId;
    const refuse = (code: number): void => {
      this.countAbuse('refused streams');
      this.reply(u32Frame(FrameType.RST_STREAM, streamId, code));
    };
    if (this.goingAway) return refuse(ErrorCode.REFUSED_STREAM);
    if (this.streams.size >= MAX_ACTIVE_STREAMS) return refuse(ErrorCode.REFUSED_STREAM);
    if (oversized) return refuse(ErrorCode.PROTOCOL_ERROR);
    const stream = new H2Stream(EMPTY, NO_EVENTS);
    stream.id = streamId;
    stream.sendWindow = this.peerInitialWindow;
    stream.requestHeaders = headers;
    this.streams.set(streamId, stream);
    if (this.streams.size === 1) this.onIdle?.(false);
    this.onStream?.(stream);
    if (endStream && !stream.closed) this.remoteEnd(stream);
  }

  /** A frame for a stream we do not know: fine if it was closed, a protocol error if it was never opened. */
  private checkKnown(streamId: number): void {
    const neverOpened =
      this.role === 'client'
        ? streamId % 2 === 0 || streamId >= this.nextStreamId
        : streamId % 2 === 0 || streamId > this.lastPeerStreamId;
    if (neverOpened) {
      throw new ConnectionError(
        ErrorCode.PROTOCOL_ERROR,
        `frame for stream ${streamId} that was never opened`,
      );
    }
  }

  private onReset(f: Frame): void {
    if (f.streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    this.countAbuse('stream resets');
    if (f.payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM length');
    const stream = this.streams.get(f.streamId);
    if (!stream) return this.checkKnown(f.streamId);
    const code = f.payload.readUInt32BE(0);
    const retryable = code === ErrorCode.REFUSED_STREAM;
    this.finishStream(
      stream,
      new StreamError(code, `stream reset by server (${errorName(code)})`, retryable),
    );
  }

  private onSettings(f: Frame): void {
    if (f.streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (f.flags & Flag.ACK) {
      if (f.payload.length !== 0)
        throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with payload');
      return;
    }
    if (f.payload.length % 6 !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS length');
    this.settingsSeen = true;
    for (let pos = 0; pos < f.payload.length; pos += 6) {
      const id = f.payload.readUInt16BE(pos);
      const value = f.payload.readUInt32BE(pos + 2);
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW)
          throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'initial window too large');
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) {
          s.sendWindow += delta;
          if (s.sendWindow > MAX_WINDOW) {
            throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow');
          }
          if (s.queue.length > 0) this.sendable.add(s);
        }
      } else if (id === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME || value > 16_777_215) {
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `invalid MAX_FRAME_SIZE ${value}`);
        }
        this.peerMaxFrame = value;
      } else if (id === Setting.MAX_CONCURRENT_STREAMS) {
        this.peerMaxStreams = value;
      } else if (id === Setting.ENABLE_PUSH && value > 1) {
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'invalid ENABLE_PUSH');
      }
      // HEADER_TABLE_SIZE needs nothing: our encoder never uses the dynamic table.
    }
    this.reply(frameBytes(FrameType.SETTINGS, Flag.ACK, 0));
    this.startWaiting();
  }

  private onPing(f: Frame): void {
    if (f.streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
    if (f.payload.length !== 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING length');
    if ((f.flags & Flag.ACK) === 0) {
      this.enforcePingPolicy();
      this.reply(frameBytes(FrameType.PING, Flag.ACK, 0, f.payload));
      return;
    }
    const key = f.payload.readBigUInt64BE(0);
    const callback = this.pings.get(key);
    this.pings.delete(key);
    callback?.();
  }

  private enforcePingPolicy(): void {
    const policy = this.pingPolicy;
    if (!policy) return;
    if (this.sentStreamFrames) {
      this.sentStreamFrames = false;
      this.pingStrikes = 0;
      this.lastPingAt = 0;
    }
    const now = Date.now();
    if (this.lastPingAt !== 0 && now - this.lastPingAt < policy.minIntervalMs) {
      if (++this.pingStrikes > policy.maxStrikes) {
        throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too_many_pings');
      }
    }
    this.lastPingAt = now;
  }

  private onGoaway(f: Frame): void {
    if (f.streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (f.payload.length < 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY length');
    const lastStreamId = f.payload.readUInt32BE(0) & 0x7fffffff;
    const code = f.payload.readUInt32BE(4);
    this.goingAway = true;
    const why = `connection closed by server (GOAWAY ${errorName(code)})`;
    for (const s of [...this.streams.values()]) {
      if (s.id > lastStreamId) this.finishStream(s, new StreamError(ErrorCode.REFUSED_STREAM, why, true));
    }
    for (const s of this.waiting.splice(0)) {
      this.finishStream(s, new StreamError(ErrorCode.REFUSED_STREAM, why, true));
    }
    this.endIfIdle();
  }

  private onWindowUpdate(f: Frame): void {
    if (f.payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
    const increment = f.payload.readUInt32BE(0) & 0x7fffffff;
    if (f.streamId === 0) {
      if (increment === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW) {
        throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window overflow');
      }
      if (this.sendable.size > 0) this.scheduleFlush();
      return;
    }
    const stream = this.streams.get(f.streamId);
    if (!stream) return this.checkKnown(f.streamId);
    if (increment === 0) return this.reset(stream, ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) {
      return this.reset(stream, ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow');
    }
    if (stream.queue.length > 0) {
      this.sendable.add(stream);
      this.scheduleFlush();
    }
  }

  // ---- stream and connection ends ----

  private localEnd(stream: H2Stream): void {
    stream.localEnded = true;
    if (stream.remoteEnded) return this.finishStream(stream);
    // A server that answered before the request ended asks the client to stop sending (RFC 9113 §8.1).
    if (this.role === 'server') this.stopPeer(stream);
  }

  private remoteEnd(stream: H2Stream): void {
    stream.remoteEnded = true;
    stream.events.onEnd?.();
    if (stream.closed) return;
    if (stream.localEnded) return this.finishStream(stream);
    // The server answered before we finished sending: stop sending, without error (RFC 9113 §8.1).
    if (this.role === 'client') this.stopPeer(stream);
  }

  private stopPeer(stream: H2Stream): void {
    this.out.push(u32Frame(FrameType.RST_STREAM, stream.id, ErrorCode.NO_ERROR));
    this.scheduleFlush();
    this.finishStream(stream);
  }

  private finishStream(stream: H2Stream, err?: StreamError): void {
    if (stream.closed) return;
    stream.closed = true;
    if (stream.id !== 0 && this.streams.delete(stream.id) && this.streams.size === 0) this.onIdle?.(true);
    this.sendable.delete(stream);
    for (const item of stream.queue.splice(0)) item.done?.(err ?? new Error('stream closed'));
    stream.events.onClose(err);
    this.startWaiting();
    this.endIfIdle();
  }

  private startWaiting(): void {
    const limit = Math.min(this.peerMaxStreams, MAX_ACTIVE_STREAMS);
    while (this.waiting.length > 0 && this.streams.size < limit && !this.closed)
      this.start(this.waiting.shift()!);
  }

  private endIfIdle(): void {
    if (!this.goingAway || this.finished || this.streams.size > 0 || this.waiting.length > 0) return;
    this.flush();
    this.endSocket();
  }

  /** Half-closes so that what was written still arrives; destroys if the peer does not close in time. */
  private endSocket(): void {
    this.socket.end();
    setTimeout(() => this.socket.destroy(), END_GRACE_MS).unref();
  }

  private connectionError(err: ConnectionError): void {
    if (this.finished) return;
    this.out.push(goawayFrame(this.lastPeerStreamId, err.code, err.message));
    this.flush();
    this.terminate(new ProtocolError(`HTTP/2 protocol error (${errorName(err.code)}): ${err.message}`));
    this.endSocket();
  }

  /** The connection is gone: every stream, queued call and ping fails; close listeners run once. */
  private terminate(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.goingAway = true;
    const failure = new StreamError(ErrorCode.INTERNAL_ERROR, err.message, false, true);
    for (const s of [...this.streams.values(), ...this.waiting.splice(0)]) this.finishStream(s, failure);
    for (const cb of this.pings.values()) cb(err);
    this.pings.clear();
    for (const cb of [...this.afterWrite.splice(0), ...this.drainWaiters.splice(0)]) cb(err);
    const listeners = this.closeListeners;
    this.closeListeners = [];
    for (const l of listeners) l(err);
  }
}
