// Micro-benchmark of one call's deadline: create it, arm the expiry hook, read the time left twice (pool
// and header), cancel the hook when the answer arrives. Deadline (core/deadline.ts, a value on a Clock)
// against the AbortSignal alternatives. Run alone: node --import tsx bench/deadline.ts
// Measured on the shared 2-core machine (node 20, two runs): number + setTimeout (before) 646-984 ns,
// Deadline 603-862 ns, AbortController + setTimeout 26.9-35.1 us, AbortSignal.timeout 39-61 us per call.
import { pathToFileURL } from 'node:url';
import { Deadline } from '../src/core/deadline.js';

const CALLS = 200_000;
const ROUNDS = 5;
const TIMEOUT_MS = 30_000;
let sink = 0;

function viaDeadline(): void {
  const d = Deadline.after(TIMEOUT_MS);
  const timer = d.onExpire(() => sink--);
  sink += d.remainingMs() + d.remainingMs();
  d.cancelExpire(timer);
}

/** Before: a number of ms and a plain timer (the floor for any design that can cancel its timer). */
function viaNumber(): void {
  const at = Date.now() + TIMEOUT_MS;
  const timer = setTimeout(() => sink--, Math.max(1, at - Date.now()));
  sink += at - Date.now() + (at - Date.now());
  clearTimeout(timer);
}

/** AbortSignal.timeout: the runtime keeps the timer; the call only listens (it cannot cancel the timer). */
function viaSignalTimeout(): void {
  const started = Date.now();
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  const onAbort = (): number => sink--;
  signal.addEventListener('abort', onAbort);
  sink += started + TIMEOUT_MS - Date.now() + (started + TIMEOUT_MS - Date.now());
  signal.removeEventListener('abort', onAbort);
}

/** AbortController with our own timer, cleared on the answer (the cancellable AbortSignal variant). */
function viaController(): void {
  const at = Date.now() + TIMEOUT_MS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  const onAbort = (): number => sink--;
  controller.signal.addEventListener('abort', onAbort);
  sink += at - Date.now() + (at - Date.now());
  controller.signal.removeEventListener('abort', onAbort);
  clearTimeout(timer);
}

/** Nanoseconds per call, best of ROUNDS. */
function measure(fn: () => void): number {
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / CALLS);
  }
  return best;
}

export async function benchDeadline(): Promise<string[]> {
  // Uncleared AbortSignal.timeout timers pile up and slow down what runs after them: that one goes last.
  const results: [string, number][] = [
    ['number + setTimeout (before)', measure(viaNumber)],
    ['Deadline (value + clock timer)', measure(viaDeadline)],
    ['AbortController + setTimeout', measure(viaController)],
    ['AbortSignal.timeout + listener', measure(viaSignalTimeout)],
  ];
  const base = results[0]![1];
  return results.map(
    ([name, ns]) => `${name.padEnd(32)} ${ns.toFixed(0).padStart(6)} ns/call  (${(ns / base).toFixed(2)}x)`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const line of await benchDeadline()) console.log(line);
  if (sink === 0.5) console.log('unreachable');
  process.exit(0); // AbortSignal.timeout's timers cannot be cleared; do not wait 30 s for them
}
