/** Our PINGs in flight: each carries a sequence number as its payload, and its ACK runs the callback. */
import { FrameType } from './codes.js';
import { frameBytes } from './frames.js';

export type PingCallback = (err?: Error) => void;

export class PingTracker {
  private seq = 0;
  private readonly pending = new Map<bigint, PingCallback>();

  /** The PING frame of a new ping; `callback` runs when its ACK arrives or the connection ends. */
  frame(callback: PingCallback): Buffer {
    const payload = Buffer.allocUnsafe(8);
    const key = BigInt(++this.seq);
    payload.writeBigUInt64BE(key, 0);
    this.pending.set(key, callback);
    return frameBytes(FrameType.PING, 0, 0, payload);
  }

  /** A PING ACK from the peer (its 8-byte payload); unknown payloads are ignored. */
  acked(payload: Buffer): void {
    const key = payload.readBigUInt64BE(0);
    const callback = this.pending.get(key);
    this.pending.delete(key);
    callback?.();
  }

  fail(err: Error): void {
    for (const cb of this.pending.values()) cb(err);
    this.pending.clear();
  }
}
