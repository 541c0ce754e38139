/**
 * The frames a connection receives, once the FrameReader has cut them: each is checked (RFC 9113 §4-6),
 * frames of the connection itself (SETTINGS, PING, GOAWAY, its WINDOW_UPDATE and the connection window of
 * DATA) are handled here, and those of a stream go on to Streams. A violation throws ConnectionError,
 * which the connection answers with GOAWAY.
 */
import type { AbuseGuards } from './abuse-guards.js';
import { ErrorCode, errorName, Flag, FrameType, readErrorCode } from './codes.js';
import { ConnectionError, StreamError } from './errors.js';
import type { FlowWindow } from './flow-control.js';
import { frameBytes, unpad, windowUpdateFrame, type Frame } from './frames.js';
import type { HeaderBlockReader } from './header-block.js';
import { SMALL_WINDOW_UPDATE_BYTES } from './limits.js';
import type { PeerSettings } from './peer-settings.js';
import type { PingTracker } from './pings.js';
import type { StreamSender } from './sender.js';
import type { Streams } from './streams.js';
import type { FrameWriter } from './writer.js';

/** What the frames need of their connection's state. */
export interface InboundHooks {
  /** The connection is gone: later frames are dropped. */
  closed(): boolean;
  /** A GOAWAY arrived: no new streams. */
  goAway(): void;
  /** Streams ended: a connection going away may end now. */
  endIfIdle(): void;
}

/** The parts of the connection the frames act on. */
export interface InboundParts {
  headerBlocks: HeaderBlockReader;
  streams: Streams;
  /** The connection's window. */
  flow: FlowWindow;
  writer: FrameWriter;
  sender: StreamSender;
  guards: AbuseGuards;
  peer: PeerSettings;
  pings: PingTracker;
}

export class InboundFrames {
  private settingsSeen = false;
  private readonly headerBlocks: HeaderBlockReader;
  private readonly streams: Streams;
  private readonly flow: FlowWindow;
  private readonly writer: FrameWriter;
  private readonly sender: StreamSender;
  private readonly guards: AbuseGuards;
  private readonly peer: PeerSettings;
  private readonly pings: PingTracker;

  constructor(
    parts: InboundParts,
    private readonly hooks: InboundHooks,
  ) {
    ({
      headerBlocks: this.headerBlocks,
      streams: this.streams,
      flow: this.flow,
      writer: this.writer,
      sender: this.sender,
      guards: this.guards,
      peer: this.peer,
      pings: this.pings,
    } = parts);
  }

  onFrame(f: Frame): void {
    if (this.hooks.closed()) return;
    if (!this.settingsSeen && f.type !== FrameType.SETTINGS) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'the preface must start with SETTINGS');
    }
    this.headerBlocks.checkNotInterrupted(f);
    switch (f.type) {
      case FrameType.DATA:
        return this.onData(f);
      case FrameType.HEADERS:
        return this.headerBlocks.onHeaders(f);
      case FrameType.CONTINUATION:
        return this.headerBlocks.onContinuation(f);
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
      case FrameType.PRIORITY:
        // We keep no priority tree (a PRIORITY frame is checked and dropped), within the unproductive budget.
        this.guards.countUnproductive('PRIORITY frames');
        return this.streams.onPriority(f.streamId, f.payload);
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE although push is disabled');
      default:
        // Unknown frame types are ignored (RFC 9113 §5.5), within the unproductive budget.
        this.guards.countUnproductive('unknown frames');
        return;
    }
  }

  private onData(f: Frame): void {
    if (f.streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    const length = f.payload.length;
    if (!this.flow.receive(length)) {
      throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'peer sent more than the connection window');
    }
    // The connection's credit goes back on receipt, so that a stream whose reader stalls does not stall
    // the others; what is held is bounded per stream by its window and in sum by the buffer budgets.
    this.flow.release(length);
    const connectionCredit = this.flow.takeUpdate();
    if (connectionCredit > 0) this.writer.enqueue(windowUpdateFrame(0, connectionCredit));
    const data = unpad(f);
    if (data.length === 0 && (f.flags & Flag.END_STREAM) === 0)
      this.guards.countUnproductive('empty DATA frames');
    this.streams.onData(f.streamId, data, length, (f.flags & Flag.END_STREAM) !== 0);
  }

  private onReset(f: Frame): void {
    if (f.streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    this.guards.countReset('stream resets');
    if (f.payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM length');
    this.streams.onReset(f.streamId, readErrorCode(f.payload, 0));
  }

  private onSettings(f: Frame): void {
    if (f.streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (f.flags & Flag.ACK) {
      if (f.payload.length !== 0)
        throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with payload');
      return;
    }
    if (this.settingsSeen) this.guards.countUnproductive('SETTINGS frames');
    this.settingsSeen = true;
    this.peer.apply(f.payload);
    this.writer.enqueueReply(frameBytes(FrameType.SETTINGS, Flag.ACK, 0));
    this.streams.startWaiting();
  }

  private onPing(f: Frame): void {
    if (f.streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
    if (f.payload.length !== 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING length');
    if ((f.flags & Flag.ACK) === 0) {
      this.guards.countPing();
      this.writer.enqueueReply(frameBytes(FrameType.PING, Flag.ACK, 0, f.payload));
      return;
    }
    this.pings.acked(f.payload);
  }

  private onGoaway(f: Frame): void {
    if (f.streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (f.payload.length < 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY length');
    const lastStreamId = f.payload.readUInt32BE(0) & 0x7fffffff;
    const code = readErrorCode(f.payload, 4);
    this.hooks.goAway();
    const why = `connection closed by server (GOAWAY ${errorName(code)})`;
    this.streams.finishAbove(lastStreamId, new StreamError(ErrorCode.REFUSED_STREAM, why, true));
    this.hooks.endIfIdle();
  }

  private onWindowUpdate(f: Frame): void {
    if (f.payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
    const increment = f.payload.readUInt32BE(0) & 0x7fffffff;
    if (increment < SMALL_WINDOW_UPDATE_BYTES) this.guards.countUnproductive('small WINDOW_UPDATE frames');
    if (f.streamId === 0) {
      if (increment === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      if (!this.flow.creditSend(increment)) {
        throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window overflow');
      }
      if (this.sender.hasWaitingData()) this.writer.scheduleFlush();
      return;
    }
    this.streams.onWindowUpdate(f.streamId, increment);
  }
}
