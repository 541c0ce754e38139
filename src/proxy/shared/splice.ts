/**
 * Joins two byte streams (docs/protocol.md#token-framing), with what the original lacked: backpressure in
 * both directions, half-close (EOF from one side ends only the other side's writable; the opposite direction
 * keeps flowing), no lifetime cap unless an idle timeout is asked for, and an error or abrupt close on either
 * side destroys both. Optional initial bytes (the replayed ClientHello) are written to the second stream
 * first.
 */
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';

/** System timers with a monotonic `now`, so a wall-clock jump neither ends nor prolongs an idle tunnel. */
const monotonicClock: Clock = { ...systemClock, now: () => performance.timeOrigin + performance.now() };

export interface SpliceOptions {
  /** Written to `b` before any byte from `a` (normal mode: the buffered ClientHello). */
  initial?: Buffer;
  /** Tear both down after this long without a byte in either direction; default: never. */
  idleTimeoutMs?: number;
  /** Time source for the idle timeout (tests pass a manual clock); default: system timers, monotonic time. */
  clock?: Clock;
  /** Told of every chunk as it is handed on (`up`: from `a` to `b`), for the relayed-bytes counter. */
  onBytes?: (direction: 'up' | 'down', bytes: number) => void;
}

export interface SpliceResult {
  /** Bytes handed to `b`, initial bytes included. */
  aToB: number;
  /** Bytes handed to `a`. */
  bToA: number;
  /** 'closed': both sides finished (cleanly or by a peer's close); 'error': a stream failed; 'idle'. */
  reason: 'closed' | 'error' | 'idle';
  /** The first stream error seen, if any. */
  error?: Error;
}

/** Whether a closed stream finished both directions normally (as opposed to being destroyed midway). */
function closedCleanly(stream: Duplex): boolean {
  return stream.readableEnded && stream.writableFinished;
}

/**
 * Splices `a` and `b` until both are closed. Never rejects: stream errors are reported in the result. The
 * streams are owned by the splice from now on (it destroys them on failure) and get `allowHalfOpen = true`;
 * listeners should also be created with `allowHalfOpen: true` so an EOF that arrives before the splice
 * starts does not already end the socket's writable side.
 */
export function splice(a: Duplex, b: Duplex, options: SpliceOptions = {}): Promise<SpliceResult> {
  return new Promise<SpliceResult>((resolve) => {
    let aToB = 0;
    let bToA = 0;
    let reason: SpliceResult['reason'] = 'closed';
    let firstError: Error | undefined;
    const clock = options.clock ?? monotonicClock;
    let lastActivity = clock.now();
    let idleTimer: TimerHandle | undefined;
    let open = 2;

    const teardown = (why: SpliceResult['reason'], error?: Error): void => {
      if (reason === 'closed') reason = why;
      if (error !== undefined && firstError === undefined) firstError = error;
      a.destroy();
      b.destroy();
    };
    const onClosed = (stream: Duplex): void => {
      if (!closedCleanly(stream)) teardown('closed');
      open -= 1;
      if (open > 0) return;
      clock.clearTimeout(idleTimer);
      resolve(firstError === undefined ? { aToB, bToA, reason } : { aToB, bToA, reason, error: firstError });
    };

    // Half-close is handled here: a stream must not end its own writable side when its readable side ends.
    a.allowHalfOpen = true;
    b.allowHalfOpen = true;

    const pump = (src: Duplex, dst: Duplex, count: (bytes: number) => void): void => {
      src.on('data', (chunk: Buffer) => {
        count(chunk.length);
        lastActivity = clock.now();
        if (!dst.destroyed && !dst.write(chunk)) src.pause();
      });
      dst.on('drain', () => src.resume());
      src.on('end', () => {
        if (!dst.destroyed && !dst.writableEnded) dst.end();
      });
    };

    for (const stream of [a, b]) {
      stream.on('error', (error: Error) => teardown('error', error));
      if (stream.closed) queueMicrotask(() => onClosed(stream));
      else stream.once('close', () => onClosed(stream));
    }

    let initialBackpressure = false;
    if (options.initial !== undefined && options.initial.length > 0 && !b.destroyed) {
      aToB += options.initial.length;
      options.onBytes?.('up', options.initial.length);
      initialBackpressure = !b.write(options.initial);
    }
    const onBytes = options.onBytes ?? ((): void => undefined);
    pump(a, b, (n) => {
      aToB += n;
      onBytes('up', n);
    });
    pump(b, a, (n) => {
      bToA += n;
      onBytes('down', n);
    });
    if (initialBackpressure) a.pause();
    else a.resume();
    b.resume();

    if (options.idleTimeoutMs !== undefined) {
      const idleMs = options.idleTimeoutMs;
      const check = (): void => {
        const idleFor = clock.now() - lastActivity;
        if (idleFor >= idleMs) teardown('idle');
        else idleTimer = clock.setTimeout(check, idleMs - idleFor);
      };
      idleTimer = clock.setTimeout(check, idleMs);
    }

    if (a.destroyed || b.destroyed) teardown('closed');
  });
}
