/** The peer's SETTINGS (RFC 9113 §6.5.2), validated and applied in the order they arrive. */
import { ConnectionError } from './errors.js';
import { ErrorCode, Setting } from './codes.js';
import { DEFAULT_MAX_FRAME, DEFAULT_WINDOW, MAX_WINDOW } from './frames.js';
import { MAX_ACTIVE_STREAMS } from './limits.js';

const MAX_FRAME_LIMIT = 16_777_215;

export class PeerSettings {
  /** SETTINGS_INITIAL_WINDOW_SIZE: the send window of each new stream. */
  initialWindow = DEFAULT_WINDOW;
  maxFrame = DEFAULT_MAX_FRAME;
  maxStreams = MAX_ACTIVE_STREAMS;

  /**
   * `peerIsServer`: we are the client. `onWindowChange(delta)`: INITIAL_WINDOW_SIZE changed; every open
   * stream's send window moves by delta.
   */
  constructor(
    private readonly peerIsServer: boolean,
    private readonly onWindowChange: (delta: number) => void,
  ) {}

  /** Applies a SETTINGS payload (not an ACK); throws a ConnectionError for an invalid frame or value. */
  apply(payload: Buffer): void {
    if (payload.length % 6 !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS length');
    for (let pos = 0; pos < payload.length; pos += 6) {
      const id = payload.readUInt16BE(pos);
      const value = payload.readUInt32BE(pos + 2);
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW)
          throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'initial window too large');
        const delta = value - this.initialWindow;
        this.initialWindow = value;
        this.onWindowChange(delta);
      } else if (id === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME || value > MAX_FRAME_LIMIT) {
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `invalid MAX_FRAME_SIZE ${value}`);
        }
        this.maxFrame = value;
      } else if (id === Setting.MAX_CONCURRENT_STREAMS) {
        this.maxStreams = value;
      } else if (id === Setting.ENABLE_PUSH && value > (this.peerIsServer ? 0 : 1)) {
        // A server may only say 0, a client 0 or 1 (RFC 9113 §6.5.2).
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `invalid ENABLE_PUSH ${value}`);
      }
      // HEADER_TABLE_SIZE needs nothing: our encoder never uses the dynamic table.
    }
  }
}
