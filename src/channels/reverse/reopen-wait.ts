/**
 * Accepting side: a call for a dialling side whose reverse stream has just ended waits a little for the
 * stream to come back instead of failing at once. A dialling side of ours re-opens within
 * REOPEN_BACKOFF.maxMs (dialling-side.ts), so a restarted or reconnecting peer costs the calls made
 * meanwhile some latency, not an error. The wait ends at REOPEN_WAIT_MS after the end, at the caller's
 * deadline or on its cancellation, whichever is first; the number of waiting calls and of remembered
 * ends is bounded.
 */
import { systemClock, type Clock } from '../../core/clock.js';
import { PeerDisconnectedError } from '../../broker/channel-errors.js';
import type { CallScope } from '../../broker/channel.js';
import { watchScope } from '../../core/cancellation.js';

/** How long after a stream ended calls for its peer wait for the next one. */
export const REOPEN_WAIT_MS = 1_500;
/** Calls waiting at once (all peers); more fail at once as "client disconnected". */
export const MAX_WAITING_CALLS = 4_096;

interface Waiter<T> {
  resolve: (stream: T) => void;
}

export class ReopenWaits<T> {
  /** Peer name → when its last stream ended; oldest first (insertion order), at most `maxPeers`. */
  private readonly ended = new Map<string, number>();
  private readonly waiters = new Map<string, Set<Waiter<T>>>();
  private waiting = 0;

  constructor(
    private readonly maxPeers: number,
    private readonly clock: Clock = systemClock,
  ) {}

  /** The peer's stream ended: calls for it may wait for the next one for REOPEN_WAIT_MS. */
  streamEnded(name: string): void {
    this.ended.delete(name);
    this.ended.set(name, this.clock.now());
    if (this.ended.size > this.maxPeers) {
      const oldest = this.ended.keys().next().value;
      if (oldest !== undefined) this.ended.delete(oldest);
    }
  }

  /** A new stream from the peer is registered: the calls waiting for it go on over it. */
  streamOpened(name: string, stream: T): void {
    this.ended.delete(name);
    const list = this.waiters.get(name);
    if (!list) return;
    this.waiters.delete(name);
    for (const w of list) w.resolve(stream);
  }

  /** The peer's stream ended less than REOPEN_WAIT_MS ago. */
  expecting(name: string): boolean {
    const at = this.ended.get(name);
    return at !== undefined && this.clock.now() - at < REOPEN_WAIT_MS;
  }

  /** The peer's next stream; rejects (PeerDisconnectedError, or the scope's reason) when the wait ends. */
  wait(name: string, scope: CallScope): Promise<T> {
    const at = this.ended.get(name);
    const left = at === undefined ? 0 : at + REOPEN_WAIT_MS - this.clock.now();
    if (left <= 0 || this.waiting >= MAX_WAITING_CALLS) {
      return Promise.reject(new PeerDisconnectedError());
    }
    return new Promise<T>((resolve, reject) => {
      let list = this.waiters.get(name);
      if (!list) this.waiters.set(name, (list = new Set()));
      const set = list;
      this.waiting++;
      const done = (): void => {
        if (!set.delete(waiter)) return;
        this.waiting--;
        if (set.size === 0 && this.waiters.get(name) === set) this.waiters.delete(name);
        this.clock.clearTimeout(timer);
        stopWatching();
      };
      const waiter: Waiter<T> = {
        resolve: (stream) => {
          done();
          resolve(stream);
        },
      };
      set.add(waiter);
      const fail = (err: Error): void => {
        done();
        reject(err);
      };
      const timer = this.clock.setTimeout(
        () =>
          fail(
            new PeerDisconnectedError(
              `client disconnected: no new reverse stream within ${REOPEN_WAIT_MS} ms`,
            ),
          ),
        left,
      );
      const stopWatching = watchScope(scope, `the reverse stream of ${name}`, fail);
    });
  }
}
