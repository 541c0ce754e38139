/** gRPC length-prefixed message framing: 1 flag byte (0 = uncompressed) + 4-byte big-endian length. */
import { GrpcError, Status } from './status.js';

/** Default and original limit for one message [WIRE, docs/protocol.md#limits]. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** The prefix of every message: flag byte and length. */
export const MESSAGE_PREFIX_BYTES = 5;

export function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(MESSAGE_PREFIX_BYTES + payload.length);
  out[0] = 0;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

/**
 * Chunks smaller than this that continue a partial message are copied together into buffers of
 * COALESCE_BUFFER_BYTES instead of being kept one by one: a peer sending one-byte DATA frames would
 * otherwise cost a Buffer object (about 100 bytes of heap) for every byte of its window.
 */
const COALESCE_BELOW_BYTES = 1024;
const COALESCE_BUFFER_BYTES = 16 * 1024;

/** Incremental parser; push chunks, get whole messages. Rejects oversized and compressed messages. */
export class MessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Our own buffer that small chunks are copied into; the last of `chunks` is its filled part. */
  private spare: Buffer | undefined;
  private spareUsed = 0;

  constructor(private readonly maxBytes = MAX_MESSAGE_BYTES) {}

  /** Drops the bytes still held (the stream has ended). */
  release(): void {
    this.chunks = [];
    this.buffered = 0;
    this.spare = undefined;
  }

  /**
   * Whole messages completed by `chunk`. What a stream may have unread (here and in the application's
   * queues) is bounded by its flow-control window and the buffer budgets (h2/buffer-budget.ts).
   */
  push(chunk: Buffer): Buffer[] {
    // The first chunk of a message is kept as it is (a unary message usually is one chunk: no copy).
    if (this.buffered > 0 && chunk.length < COALESCE_BELOW_BYTES) this.appendSmall(chunk);
    else {
      this.chunks.push(chunk);
      this.spare = undefined;
    }
    this.buffered += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.buffered < 5) break;
      const head = this.peek(5);
      if (head[0] !== 0) throw new GrpcError(Status.UNIMPLEMENTED, 'compressed messages are not supported');
      const len = head.readUInt32BE(1);
      if (len > this.maxBytes) {
        throw new GrpcError(
          Status.RESOURCE_EXHAUSTED,
          `grpc: received message larger than max (${len} vs. ${this.maxBytes})`,
        );
      }
      if (this.buffered < 5 + len) break;
      const all = this.take(5 + len);
      out.push(all.subarray(5));
    }
    return out;
  }

  /** Copies `chunk` behind the previous small ones; views handed out are never written again. */
  private appendSmall(chunk: Buffer): void {
    if (!this.spare || this.spareUsed + chunk.length > this.spare.length) {
      this.spare = Buffer.allocUnsafe(COALESCE_BUFFER_BYTES);
      this.spareUsed = 0;
      this.chunks.push(this.spare.subarray(0, 0));
    }
    chunk.copy(this.spare, this.spareUsed);
    this.spareUsed += chunk.length;
    this.chunks[this.chunks.length - 1] = this.spare.subarray(0, this.spareUsed);
  }

  get pendingBytes(): number {
    return this.buffered;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    this.spare = undefined;
    return joined;
  }

  private take(n: number): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.spare = undefined;
    this.buffered = rest.length;
    return out;
  }
}

/** Wire bytes of a message: its 5-byte prefix and payload (what it held of the stream's window). */
export function wireBytes(message: Buffer): number {
  return 5 + message.length;
}

/**
 * The request or response of a unary call: every chunk of the stream goes through `push` (which throws the
 * reader's GrpcError on a bad message); `single()` is the message if exactly one arrived, with nothing after.
 * A message counts as consumed (`onConsumed`: its window goes back) as soon as it is complete.
 */
export class UnaryMessage {
  private message: Buffer | undefined;
  private count = 0;

  constructor(
    readonly reader: MessageReader,
    private readonly onConsumed: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    for (const m of this.reader.push(chunk)) {
      this.message = m;
      this.count++;
      this.onConsumed(wireBytes(m));
    }
  }

  single(): Buffer | undefined {
    return this.count === 1 && this.reader.pendingBytes === 0 ? this.message : undefined;
  }
}

/**
 * The messages of a streaming call, for one listener. A message is consumed (`onConsumed`: its window goes
 * back to the peer) when the listener takes it. Until a listener is set, and while paused, messages wait
 * here, and the peer can send no more than the stream's window: a reader that stops reading stalls it.
 */
export class MessageInbox {
  private listener?: (payload: Buffer) => void;
  private waiting: Buffer[] = [];
  private paused = false;

  constructor(private readonly onConsumed: (bytes: number) => void) {}

  /** Parses `chunk` with `reader` and hands over the complete messages; throws the reader's GrpcError. */
  push(reader: MessageReader, chunk: Buffer): void {
    for (const m of reader.push(chunk)) {
      if (this.listener && !this.paused && this.waiting.length === 0) this.deliver(m);
      else this.waiting.push(m);
    }
  }

  onMessage(listener: (payload: Buffer) => void): void {
    this.listener = listener;
    this.drain();
  }

  /** Stop taking messages (they wait, and so does the peer once the window is used up) until resume(). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.drain();
  }

  /** Drops the messages not yet taken (the call has ended: nobody will read them). */
  clear(): void {
    this.waiting = [];
  }

  /** Messages received and not yet taken. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  private drain(): void {
    while (this.listener && !this.paused && this.waiting.length > 0) this.deliver(this.waiting.shift()!);
  }

  private deliver(message: Buffer): void {
    this.onConsumed(wireBytes(message));
    this.listener!(message);
  }
}
