/**
 * The one way tests wait for a condition: poll with a mandatory deadline, and fail naming what was awaited.
 *
 * Real timers and clock are captured at load, so a wait still works (and still times out) while a test has
 * node:test's mock timers enabled.
 */
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const realSetImmediate = globalThis.setImmediate;
const now = (): number => performance.now();

export interface WaitOptions {
  /** Give up after this long (real time). */
  timeoutMs: number;
  /** What is awaited, for the failure message ("the tunnel to close"). */
  what: string;
  /** Pause between checks; default 5 ms; 0 checks again on the next turn of the event loop. */
  intervalMs?: number;
}

/** Resolves once `predicate` holds; rejects after `timeoutMs` with "timed out after N ms waiting for WHAT". */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  { timeoutMs, what, intervalMs = 5 }: WaitOptions,
): Promise<void> {
  const deadline = now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) =>
      intervalMs === 0 ? realSetImmediate(resolve) : realSetTimeout(resolve, intervalMs),
    );
  }
}

/** Settles like `promise`, or rejects after `timeoutMs` with "timed out after N ms waiting for WHAT". */
export function withDeadline<T>(
  promise: Promise<T>,
  { timeoutMs, what }: Omit<WaitOptions, 'intervalMs'>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = realSetTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, expired]).finally(() => realClearTimeout(timer));
}
