/** gRPC length-prefixed message framing: 1 flag byte (0 = uncompressed) + 4-byte big-endian length. */
import { GrpcError, Status } from './status.js';

/** Default and original limit for one message [WIRE, docs/protocol.md#limits]. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = 0;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

/** Default bound on unfinished message data held for all streams of one connection. */
export const MAX_CONNECTION_BUFFER_BYTES = 64 * 1024 * 1024;

/**
 * Bytes of unfinished messages held by all readers of one connection. HTTP/2 flow control returns
 * credit as data arrives, so without this bound a peer could park a partial 4 MiB message on each of
 * 1000 streams.
 */
export class BufferBudget {
  used = 0;
  constructor(readonly max = MAX_CONNECTION_BUFFER_BYTES) {}
}

/** Incremental parser; push chunks, get whole messages. Rejects oversized and compressed messages. */
export class MessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(
    private readonly maxBytes = MAX_MESSAGE_BYTES,
    private readonly budget = new BufferBudget(),
  ) {}

  /** Gives the bytes still held back to the connection's budget (the stream has ended). */
  release(): void {
    this.budget.used -= this.buffered;
    this.chunks = [];
    this.buffered = 0;
  }

  push(chunk: Buffer): Buffer[] {
    if (this.budget.used + chunk.length > this.budget.max) {
      throw new GrpcError(
        Status.RESOURCE_EXHAUSTED,
        `more than ${this.budget.max} bytes of unfinished messages on this connection`,
      );
    }
    this.budget.used += chunk.length;
    this.chunks.push(chunk);
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

  get pendingBytes(): number {
    return this.buffered;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  private take(n: number): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.budget.used -= this.buffered - rest.length;
    this.buffered = rest.length;
    return out;
  }
}

/**
 * The request or response of a unary call: every chunk of the stream goes through `push` (which throws the
 * reader's GrpcError on a bad message); `single()` is the message if exactly one arrived, with nothing after.
 */
export class UnaryMessage {
  private message: Buffer | undefined;
  private count = 0;

  constructor(readonly reader: MessageReader) {}

  push(chunk: Buffer): void {
    for (const m of this.reader.push(chunk)) {
      this.message = m;
      this.count++;
    }
  }

  single(): Buffer | undefined {
    return this.count === 1 && this.reader.pendingBytes === 0 ? this.message : undefined;
  }
}

/**
 * The messages of a streaming call, for one listener. Those that arrive before the listener is set wait
 * here (bounded by the stream's flow-control window).
 */
export class MessageInbox {
  private listener?: (payload: Buffer) => void;
  private early: Buffer[] = [];

  /** Parses `chunk` with `reader` and hands over the complete messages; throws the reader's GrpcError. */
  push(reader: MessageReader, chunk: Buffer): void {
    for (const m of reader.push(chunk)) {
      if (this.listener) this.listener(m);
      else this.early.push(m);
    }
  }

  onMessage(listener: (payload: Buffer) => void): void {
    this.listener = listener;
    for (const m of this.early.splice(0)) listener(m);
  }
}
