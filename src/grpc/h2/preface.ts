/**
 * The connection preface (RFC 9113 §3.4): what each side sends first (the client its magic string),
 * our SETTINGS and the connection window we grant, and the server's check of the client's magic.
 */
import { Setting } from './codes.js';
import { CLIENT_PREFACE, DEFAULT_WINDOW, settingsFrame, windowUpdateFrame } from './frames.js';
import { CONNECTION_WINDOW, MAX_ACTIVE_STREAMS, MAX_HEADER_LIST_BYTES, STREAM_WINDOW } from './limits.js';
import type { Role } from './streams.js';

/** Our first frames: SETTINGS (no push as client, our stream limit as server) and the connection window. */
export function ourPreface(role: Role): Buffer[] {
  const settings: [Setting, number][] = [
    [Setting.INITIAL_WINDOW_SIZE, STREAM_WINDOW],
    [Setting.MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST_BYTES],
  ];
  if (role === 'client') settings.unshift([Setting.ENABLE_PUSH, 0]);
  else settings.unshift([Setting.MAX_CONCURRENT_STREAMS, MAX_ACTIVE_STREAMS]);
  const frames = [settingsFrame(settings), windowUpdateFrame(0, CONNECTION_WINDOW - DEFAULT_WINDOW)];
  return role === 'client' ? [CLIENT_PREFACE, ...frames] : frames;
}

/** Server side: checks the client's magic string, however it is split over chunks. */
export class PrefaceCheck {
  private left: number;

  constructor(role: Role) {
    this.left = role === 'server' ? CLIENT_PREFACE.length : 0;
  }

  /** The chunk without the preface bytes it held, or undefined if the peer does not speak HTTP/2. */
  strip(chunk: Buffer): Buffer | undefined {
    if (this.left === 0) return chunk;
    const offset = CLIENT_PREFACE.length - this.left;
    const n = Math.min(this.left, chunk.length);
    if (!chunk.subarray(0, n).equals(CLIENT_PREFACE.subarray(offset, offset + n))) return undefined;
    this.left -= n;
    return chunk.subarray(n);
  }
}
