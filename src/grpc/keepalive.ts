/**
 * Keepalive and connection lifetime of our gRPC server and client, as typed options with one frozen
 * default each (the original's values where it had them, docs/protocol.md#keepalive). Tests shorten them
 * and run them on a manual clock.
 */
import { WRITE_STALL_MS } from './h2/limits.js';

export interface ServerKeepalive {
  /** A connection without calls for this long is closed (GOAWAY), however many pings keep it warm. */
  readonly maxIdleMs: number;
  /** A connection with calls open whose socket was silent this long is pinged. */
  readonly pingAfterSilenceMs: number;
  /** That ping must be answered within this time, or the connection is closed. */
  readonly pingTimeoutMs: number;
  /** Clients may ping this often at most while no call is answered (also without calls, as grpc-go). */
  readonly minClientPingIntervalMs: number;
  /** Quicker pings tolerated before GOAWAY ENHANCE_YOUR_CALM. */
  readonly maxPingStrikes: number;
  /** Connections are renewed after this age (±10 %, so that clients do not reconnect all at once). */
  readonly maxAgeMs: number;
  /** After the renewal's GOAWAY, calls in progress may finish for this long before the hard close. */
  readonly maxAgeGraceMs: number;
  /** A unary request must arrive completely within this time (its message is sent at once). */
  readonly requestBodyTimeoutMs: number;
  /** The TLS handshake of a new connection must finish within this time. */
  readonly handshakeTimeoutMs: number;
  /** Output the client does not read for this long ends its connection (WRITE_STALL_MS, h2/limits.ts). */
  readonly writeStallMs: number;
}

export const DEFAULT_SERVER_KEEPALIVE: ServerKeepalive = Object.freeze({
  maxIdleMs: 60_000,
  pingAfterSilenceMs: 60_000,
  pingTimeoutMs: 30_000,
  minClientPingIntervalMs: 15_000,
  maxPingStrikes: 2,
  maxAgeMs: 24 * 3600_000,
  maxAgeGraceMs: 60_000,
  requestBodyTimeoutMs: 60_000,
  handshakeTimeoutMs: 10_000,
  writeStallMs: WRITE_STALL_MS,
});

export interface ClientKeepalive {
  /** Every connection is pinged this often [docs/protocol.md#keepalive]. */
  readonly pingIntervalMs: number;
  /** A ping unanswered for this long closes the connection. */
  readonly pingTimeoutMs: number;
}

export const DEFAULT_CLIENT_KEEPALIVE: ClientKeepalive = Object.freeze({
  pingIntervalMs: 30_000,
  pingTimeoutMs: 20_000,
});
