/** Windows and limits of our HTTP/2 connections (both roles); see connection.ts for how each is enforced. */

/** What we grant the peer: per stream (a 4 MiB gRPC message fits) and for the whole connection. */
export const STREAM_WINDOW = 4 * 1024 * 1024 + 1024;
export const CONNECTION_WINDOW = 16 * 1024 * 1024;
/**
 * Received message data not yet consumed by the application (buffer-budget.ts). Per stream the bound is
 * STREAM_WINDOW: credit goes back only as messages are consumed. The connection window is granted back on
 * receipt (a stalled stream must not block the others), so these two bound the sum over many streams:
 * per connection (a server option may lower it), and for the whole process, all connections and both roles.
 * Beyond either, the stream whose data does not fit ends with RESOURCE_EXHAUSTED.
 */
export const MAX_CONNECTION_BUFFERED_BYTES = 64 * 1024 * 1024;
export const MAX_PROCESS_BUFFERED_BYTES = 256 * 1024 * 1024;
export const MAX_HEADER_LIST_BYTES = 64 * 1024;
/**
 * One header block (HEADERS and its CONTINUATION frames): at most this many bytes, counting each frame's
 * 9-byte header as well as its payload, so that empty frames are never free.
 */
export const MAX_HEADER_BLOCK_BYTES = 64 * 1024;
/**
 * CONTINUATION frames after one HEADERS frame (CVE-2023-45288, "CONTINUATION flood"): without a frame
 * bound, empty CONTINUATION frames add nothing to the byte count and a block never ends. A legitimate
 * 64 KiB block needs at most 4 at the 16 KiB frame size; 8 leaves room for peers that split finer, and is
 * nghttp2's default (max_continuations). More is a connection error, GOAWAY ENHANCE_YOUR_CALM.
 */
export const MAX_CONTINUATION_FRAMES = 8;
/**
 * Streams open at once: as a client our own cap whatever the server allows (further calls wait in a
 * queue); as a server what we announce in SETTINGS_MAX_CONCURRENT_STREAMS and enforce.
 */
export const MAX_ACTIVE_STREAMS = 1000;
export const MAX_QUEUED_STREAMS = 10_000;
export const MAX_STREAM_ID = 2 ** 31 - 1;
/** How long a half-closed connection may wait for the peer to close its side. */
export const END_GRACE_MS = 2000;
/**
 * Output that does not drain (CVE-2019-9517, "internal data buffering"): while socket writes wait for
 * the transport, or stream data waits for a connection window the peer does not reopen, some write must
 * complete within this time, else the connection ends (GOAWAY ENHANCE_YOUR_CALM if it can still be
 * written, then the socket is destroyed) and its streams fail. Each completed write restarts it, so a
 * slow peer that keeps reading is not cut off. See write-stall.ts.
 */
export const WRITE_STALL_MS = 30_000;
/**
 * Output buffered per connection (CVE-2019-9517 by volume, next to WRITE_STALL_MS by time): stream data
 * queued and not yet in frames, plus bytes handed to the socket that the transport has not taken. An
 * answer (or any stream write) that would take it beyond this is not queued: a unary answer ends with
 * RESOURCE_EXHAUSTED instead (grpc/server-replies.ts), another write resets its stream with
 * ENHANCE_YOUR_CALM; the calls already queued go on. 16 MiB is four answers of the largest message (4 MiB)
 * waiting at once for a peer that does not read; a peer that reads never gets near it.
 */
export const MAX_CONNECTION_OUTPUT_BYTES = 16 * 1024 * 1024;
/** Unread output beyond which a peer that keeps provoking replies is cut off. */
export const MAX_PENDING_REPLY_BYTES = 1024 * 1024;
/**
 * Stream resets received plus streams refused ("rapid reset", CVE-2023-44487), per connection, as a token
 * bucket: a burst of RESET_BURST, then RESET_REFILL_PER_SECOND sustained (nghttp2's figures). A window
 * that restarted every second let a peer reset ~1000 streams per second for ever.
 */
export const RESET_BURST = 1000;
export const RESET_REFILL_PER_SECOND = 33;
/** Data queued on one stream beyond which writers are asked to wait. */
export const STREAM_HIGH_WATER = 1024 * 1024;
/**
 * Frames that cost us work but carry no call forward (CVE-2019-9513 resource loop, -9515 settings flood,
 * -9518 empty frames, -9511 data dribble): SETTINGS, PRIORITY, DATA without data or END_STREAM,
 * WINDOW_UPDATE smaller than SMALL_WINDOW_UPDATE_BYTES and frames of unknown type, per connection, as a
 * token bucket: a burst of UNPRODUCTIVE_FRAME_BURST, then UNPRODUCTIVE_FRAME_REFILL_PER_SECOND sustained.
 * Beyond it GOAWAY ENHANCE_YOUR_CALM. Well-behaved gRPC peers send a handful of these per connection.
 */
export const UNPRODUCTIVE_FRAME_BURST = 1000;
export const UNPRODUCTIVE_FRAME_REFILL_PER_SECOND = 100;
/**
 * A WINDOW_UPDATE below this increment is "unproductive": peers grant credit in large steps (half or a
 * quarter of the window); a peer that grants a byte at a time makes us cut its answers into tiny frames.
 */
export const SMALL_WINDOW_UPDATE_BYTES = 1024;
/**
 * Closed streams whose end (reset by us, reset by the peer, ended) a connection remembers, to answer a
 * late frame for one as RFC 9113 §5.1 asks (closed-streams.ts). Frames sent before our RST_STREAM arrived
 * are ignored while the stream is among these; later ones are treated as for a stream long closed.
 */
export const CLOSED_STREAMS_REMEMBERED = 128;
