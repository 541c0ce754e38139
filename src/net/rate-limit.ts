/**
 * Per-remote-IP TCP connection rate limiting (`tcp_rate_limits`, docs/settings.md#tcp_rate_limits): fixed,
 * UTC-aligned windows of a second, minute or hour, checked when a connection is accepted and before any TLS.
 * Unlike the original, each limiter keeps its own windows (no state shared between listeners), counters of
 * past windows are dropped, rejected connections consume no budget, and the IP table has a size cap.
 */
import net from 'node:net';
import type tls from 'node:tls';
import { CodedError } from '../core/errors.js';

export type RateLimitWindow = 'second' | 'minute' | 'hour';

export interface RateLimit {
  type: RateLimitWindow;
  /** Connections allowed per IP and window (integer ≥ 1). */
  limit: number;
}

/** Window lengths; UTC-aligned because the Unix epoch is a whole hour and leap seconds are not counted. */
export const RATE_LIMIT_WINDOW_MS: Readonly<Record<RateLimitWindow, number>> = {
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
};

/** Default cap on the number of remote IPs tracked at once; the least recently seen is evicted first. */
export const DEFAULT_RATE_LIMIT_MAX_ENTRIES = 100_000;

export class RateLimitConfigError extends CodedError<'ERR_NET_RATE_LIMIT_CONFIG'> {
  constructor(message: string) {
    super('ERR_NET_RATE_LIMIT_CONFIG', `invalid tcp_rate_limits: ${message}`);
    this.name = 'RateLimitConfigError';
  }
}

export interface ConnectionRateLimiterOptions {
  /** Cap on tracked IPs (default DEFAULT_RATE_LIMIT_MAX_ENTRIES). */
  maxEntries?: number;
}

interface IpState {
  /** Window index (time / window length) the count belongs to, per limit. */
  windows: number[];
  counts: number[];
  /** Window index of the longest limit at the last touch, for pruning. */
  lastLongWindow: number;
}

/** IPv4-mapped IPv6 addresses (dual-stack listeners) count as the IPv4 address. */
function normalizeIp(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped?.[1] ?? ip;
}

export class ConnectionRateLimiter {
  readonly limits: readonly RateLimit[];
  private readonly windowMs: number[];
  private readonly longestWindowMs: number;
  private readonly maxEntries: number;
  /** Insertion order = order of last touch (entries are re-inserted on every use). */
  private readonly table = new Map<string, IpState>();

  constructor(limits: readonly RateLimit[], options: ConnectionRateLimiterOptions = {}) {
    for (const limit of limits) {
      if (!Object.hasOwn(RATE_LIMIT_WINDOW_MS, limit.type)) {
        throw new RateLimitConfigError(`unknown window type ${JSON.stringify(limit.type)}`);
      }
      if (!Number.isInteger(limit.limit) || limit.limit < 1) {
        throw new RateLimitConfigError(`limit must be an integer ≥ 1, got ${String(limit.limit)}`);
      }
    }
    const maxEntries = options.maxEntries ?? DEFAULT_RATE_LIMIT_MAX_ENTRIES;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RateLimitConfigError(`maxEntries must be an integer ≥ 1, got ${String(maxEntries)}`);
    }
    this.limits = limits.map((l) => ({ type: l.type, limit: l.limit }));
    this.windowMs = this.limits.map((l) => RATE_LIMIT_WINDOW_MS[l.type]);
    this.longestWindowMs = Math.max(0, ...this.windowMs);
    this.maxEntries = maxEntries;
  }

  /** Number of IPs currently tracked. */
  get size(): number {
    return this.table.size;
  }

  /**
   * Counts a new connection from `ip` and tells whether it is within every limit. A rejected connection is
   * not counted. Always true when no limits are configured.
   */
  allow(ip: string, now: number = Date.now()): boolean {
    if (this.limits.length === 0) return true;
    const key = normalizeIp(ip);
    const windows = this.windowMs.map((ms) => Math.floor(now / ms));
    const longWindow = Math.floor(now / this.longestWindowMs);
    this.prune(longWindow);

    let state = this.table.get(key);
    if (state === undefined) {
      state = { windows, counts: windows.map(() => 0), lastLongWindow: longWindow };
    } else {
      this.table.delete(key);
      for (let i = 0; i < windows.length; i++) {
        if (state.windows[i] !== windows[i]) {
          state.windows[i] = windows[i] ?? 0;
          state.counts[i] = 0;
        }
      }
      state.lastLongWindow = longWindow;
    }
    this.table.set(key, state);
    while (this.table.size > this.maxEntries) {
      const oldest = this.table.keys().next();
      if (oldest.done === true) break;
      this.table.delete(oldest.value);
    }

    const allowed = this.limits.every((limit, i) => (state.counts[i] ?? 0) < limit.limit);
    if (allowed) for (let i = 0; i < state.counts.length; i++) state.counts[i] = (state.counts[i] ?? 0) + 1;
    return allowed;
  }

  /** Drops IPs whose every window has passed (they are at the front: least recently touched first). */
  private prune(longWindow: number): void {
    for (const [key, state] of this.table) {
      if (state.lastLongWindow >= longWindow) break;
      this.table.delete(key);
    }
  }

  /** Forgets every IP. */
  clear(): void {
    this.table.clear();
  }
}

export interface RateLimitRejection {
  ip: string;
  port: number | undefined;
}

export interface AttachRateLimitOptions {
  /** Called for every rejected connection (e.g. debug logging or a metric). */
  onReject?: (rejection: RateLimitRejection) => void;
  /** Clock (ms since the epoch); for tests. */
  now?: () => number;
}

type ConnectionEmit = (event: string | symbol, ...args: unknown[]) => boolean;

/**
 * Gates the 'connection' event of a net, TLS (or HTTP/HTTPS/HTTP2) server: over-limit sockets are destroyed
 * right after accept, before any listener (and so before any TLS) sees them. Sockets without a remote IP
 * (e.g. Unix sockets) pass. Returns a function that removes the gate.
 */
export function attachRateLimit(
  server: net.Server | tls.Server,
  limiter: ConnectionRateLimiter,
  options: AttachRateLimitOptions = {},
): () => void {
  const target = server as unknown as { emit: ConnectionEmit };
  const originalEmit = target.emit;
  const now = options.now ?? Date.now;
  const gatedEmit: ConnectionEmit = function (this: unknown, event, ...args) {
    if (event === 'connection') {
      const socket = args[0];
      if (socket instanceof net.Socket && socket.remoteAddress !== undefined) {
        const ip = socket.remoteAddress;
        if (!limiter.allow(ip, now())) {
          const port = socket.remotePort;
          socket.on('error', () => undefined);
          socket.destroy();
          options.onReject?.({ ip, port });
          return false;
        }
      }
    }
    return originalEmit.call(this, event, ...args);
  };
  target.emit = gatedEmit;
  return () => {
    if (target.emit === gatedEmit) target.emit = originalEmit;
  };
}
