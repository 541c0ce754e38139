/**
 * Received stream data until the application consumes it (flow control on consumption): what a stream
 * holds is charged to the connection's buffer budget (and through it the process's), and its window goes
 * back to the peer (WINDOW_UPDATE, batched by FlowWindow) only as the application reports data consumed.
 * A stream over budget is ended by the application (onBufferExhausted) or reset here.
 */
import type { BufferBudget } from './buffer-budget.js';
import { ErrorCode } from './codes.js';
import { windowUpdateFrame } from './frames.js';
import type { H2Stream } from './stream.js';
import type { FrameWriter } from './writer.js';

export class ReceivedData {
  /** The stream whose data is being delivered, when that DATA frame carried END_STREAM. */
  private lastFrameOf: H2Stream | undefined;

  constructor(
    private readonly writer: FrameWriter,
    /** Received data not yet consumed, over all streams of the connection (and, through it, the process). */
    private readonly budget: BufferBudget,
    /** Ends a stream with RST_STREAM (Streams.reset). */
    private readonly reset: (stream: H2Stream, code: ErrorCode, message: string) => void,
  ) {}

  /** Padding is never buffered: its credit goes back at once (the data's when it is consumed). */
  padding(stream: H2Stream, bytes: number, endStream: boolean): void {
    stream.flow.release(bytes);
    if (!endStream) this.grant(stream);
  }
  /**
   * Hands `data` to the application, then charges the budgets with what it still holds of it: data
   * consumed at once (a unary message complete in this frame) costs nothing, so a full budget refuses
   * only streams that buffer. Over budget, the application ends the stream; later data is dropped.
   */
  deliver(stream: H2Stream, data: Buffer, endStream: boolean): void {
    if (stream.overBudget) {
      stream.flow.release(data.length); // the stream is ending: its window no longer matters
      return;
    }
    stream.unconsumed += data.length;
    this.lastFrameOf = endStream ? stream : undefined;
    stream.events.onData(data);
    this.lastFrameOf = undefined;
    const uncharged = stream.unconsumed - stream.charged;
    if (uncharged <= 0 || stream.closed) return;
    const refused = this.budget.charge(uncharged);
    if (!refused) {
      stream.charged += uncharged;
      return;
    }
    stream.overBudget = true;
    const message = `more than ${refused.max} bytes of unread message data in ${refused.name}`;
    if (stream.events.onBufferExhausted) stream.events.onBufferExhausted(message);
    else this.reset(stream, ErrorCode.ENHANCE_YOUR_CALM, message);
  }

  /** The application consumed `bytes` of the stream's data: budgets refunded, window granted back. */
  consumed(stream: H2Stream, bytes: number): void {
    if (stream.closed) return; // finish() refunded what was left
    const n = Math.min(bytes, stream.unconsumed);
    if (n <= 0) return;
    stream.unconsumed -= n;
    if (stream.charged > stream.unconsumed) {
      this.budget.refund(stream.charged - stream.unconsumed);
      stream.charged = stream.unconsumed;
    }
    stream.flow.release(n);
    this.grant(stream);
  }

  /** WINDOW_UPDATE for the stream once enough was released (batched: half the window), while data may come. */
  private grant(stream: H2Stream): void {
    if (stream === this.lastFrameOf) return; // END_STREAM came with this frame: nothing more can arrive
    if (stream.state !== 'open' && stream.state !== 'half-closed-local') return;
    const credit = stream.flow.takeUpdate();
    if (credit > 0) this.writer.enqueue(windowUpdateFrame(stream.id, credit));
  }

  /** The stream closed: what it still held leaves the budgets. */
  closed(stream: H2Stream): void {
    this.budget.refund(stream.charged);
    stream.charged = 0;
    stream.unconsumed = 0;
  }
}
