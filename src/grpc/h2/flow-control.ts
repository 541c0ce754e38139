/**
 * HTTP/2 flow control (RFC 9113 §6.9), the same for the connection and for each stream, both directions:
 * what the peer lets us send, and what we let the peer send and when we grant it more.
 */
import { DEFAULT_WINDOW, MAX_WINDOW } from './frames.js';

export class FlowWindow {
  /**
   * Bytes we may still send: the protocol's initial 65,535 until the peer's SETTINGS or WINDOW_UPDATE
   * change it; negative after the peer shrank its initial window.
   */
  private sendWindow = DEFAULT_WINDOW;
  /** Bytes the peer may still send us. */
  private recvWindow: number;
  /** Bytes received and released but not yet granted back in a WINDOW_UPDATE. */
  private recvUnacked = 0;

  /** `granted`: the window we announce to the peer (by SETTINGS or an initial WINDOW_UPDATE). */
  constructor(private readonly granted: number) {
    this.recvWindow = granted;
  }

  // ---- sending ----

  /** Bytes that may be sent now (0 or less: wait for WINDOW_UPDATE). */
  get sendable(): number {
    return this.sendWindow;
  }

  consumeSend(bytes: number): void {
    this.sendWindow -= bytes;
  }

  /**
   * Credit from WINDOW_UPDATE, or the change of the peer's initial window (SETTINGS; may be negative).
   * False when the window would exceed 2^31-1: a FLOW_CONTROL_ERROR of the stream or the connection.
   */
  creditSend(delta: number): boolean {
    this.sendWindow += delta;
    return this.sendWindow <= MAX_WINDOW;
  }

  // ---- receiving ----

  /**
   * The peer sent `bytes` of DATA (padding included); false if that is more than we granted. No credit
   * goes back until release(): a stream's is released as the application consumes its messages, so a
   * reader that stops reading leaves the peer without window (the connection's on receipt).
   */
  receive(bytes: number): boolean {
    this.recvWindow -= bytes;
    return this.recvWindow >= 0;
  }

  /** Bytes received and not yet released: what the peer's data still holds of the window. */
  get held(): number {
    return this.granted - this.recvWindow - this.recvUnacked;
  }

  /** `bytes` received are done with: the peer may send them again once takeUpdate() grants them. */
  release(bytes: number): void {
    this.recvUnacked += bytes;
  }

  /** The increment to grant in a WINDOW_UPDATE now, or 0 while less than half the window is outstanding. */
  takeUpdate(): number {
    if (this.recvUnacked < this.granted / 2) return 0;
    const increment = this.recvUnacked;
    this.recvWindow += increment;
    this.recvUnacked = 0;
    return increment;
  }
}
