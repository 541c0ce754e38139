/**
 * The replay memory of our gRPC server [docs/protocol.md#replay-memory]: the calls it received recently, keyed by
 * the TLS-authenticated caller and the call's `eps-call-token`, first while they run, then with their
 * answer. A call whose key is known does not run again: it gets the answer of the first (waiting for it
 * while it runs). A retry (`eps-retry`) whose key is unknown runs only if the memory can prove that it never
 * saw the original: the retry names this memory's instance, the memory is older than the original, and it
 * has forgotten nothing that arrived since the original was sent. Everything is bounded (entries, answer
 * bytes, per caller and in all, time); what is forgotten first is the oldest, and the arrival of the
 * youngest forgotten call is kept per caller (`forgottenUpTo`) for that proof.
 */
import { performance } from 'node:perf_hooks';
import type { Clock } from '../core/clock.js';
import { parseRetry, randomId, validToken } from '../grpc/replay-headers.js';

/** How long a call is remembered after it arrived: a retry comes within its caller's deadline (30 s by default). */
export const REPLAY_WINDOW_MS = 30_000;
/** Calls remembered, in all and per caller (about 250 bytes each besides the answer). */
export const MAX_REPLAY_ENTRIES = 32_768;
export const MAX_REPLAY_ENTRIES_PER_CALLER = 8_192;
/** Bytes of kept answers, in all and per caller; the oldest answers go first (their calls stay known). */
export const MAX_REPLAY_BYTES = 16 * 1024 * 1024;
export const MAX_REPLAY_BYTES_PER_CALLER = 8 * 1024 * 1024;
/**
 * Kept answers are copied into slabs of this size, one allocation for many answers (an ArrayBuffer per
 * answer cost about 1 µs); a slab counts in MAX_REPLAY_BYTES from its allocation until none of its
 * answers is kept.
 */
export const REPLAY_SLAB_BYTES = 64 * 1024;
/** An answer larger than this is not kept: a retry of its call is told that it was processed. */
export const MAX_KEPT_ANSWER_BYTES = 1024 * 1024;
/**
 * The caller measures a retry's age when the retry's stream starts (after any wait for a stream slot);
 * the retry then still travels to us. The proof allows it this long more than the original took.
 */
export const REPLAY_TRANSIT_MARGIN_MS = 1_000;

/** Calls that wait for one running call's answer (a retry, a late original; more only from a misbehaving peer). */
export const MAX_REPLAY_WAITERS = 8;

/** The answer of a call: its encoded response, or the error it ended with. */
export type Answer = Uint8Array | Error;
/** The call was processed, but its answer is no longer kept (too large, or pushed out by the byte bounds). */
export const NOT_KEPT = Symbol('answer not kept');

export type Admission =
  /** Run the call, then settle() the entry. `retry`: a retry the memory proved new. */
  | { readonly kind: 'run'; readonly entry: Entry; readonly retry: boolean }
  /** Known: the first call's answer (`running`: it was still running). */
  | { readonly kind: 'replay'; readonly answer: Promise<Answer | typeof NOT_KEPT>; readonly running: boolean }
  /** A retry that cannot be proven new: not run. */
  | { readonly kind: 'refuse'; readonly reason: string };

/**
 * One caller's calls. Answers are dropped in the order the calls arrived: `cursor` is the oldest call whose
 * answer may still be kept, and an answer that comes for a call older than that (`keepFrom`) is not kept.
 */
interface CallerState {
  readonly name: string;
  readonly byToken: Map<string, Entry>;
  /** Oldest first, a list through Entry.nextOfCaller. */
  oldest: Entry | undefined;
  youngest: Entry | undefined;
  cursor: Entry | undefined;
  keepFrom: number;
  bytes: number;
  /** Arrival of the youngest entry of this caller forgotten so far (-Infinity: none). */
  forgottenUpTo: number;
}

/** Where kept answers are copied: `live` of them are still kept. */
interface Slab {
  readonly buf: Buffer;
  used: number;
  live: number;
}

export class Entry {
  older: Entry | undefined;
  younger: Entry | undefined;
  nextOfCaller: Entry | undefined;
  done = false;
  forgotten = false;
  answer: Answer | undefined;
  /** The slab that holds the kept answer (none for an error). */
  slab: Slab | undefined;
  bytes = 0;
  waiters: ((answer: Answer | typeof NOT_KEPT) => void)[] | undefined;

  constructor(
    readonly token: string,
    readonly caller: CallerState,
    readonly arrival: number,
    /** Order of arrival in the whole memory. */
    readonly seq: number,
  ) {}
}

/** Bounds of a memory (tests use small ones). */
export interface ReplayBounds {
  windowMs: number;
  entries: number;
  entriesPerCaller: number;
  bytes: number;
  bytesPerCaller: number;
  keptAnswerBytes: number;
  slabBytes: number;
  transitMarginMs: number;
}

export const DEFAULT_REPLAY_BOUNDS: Readonly<ReplayBounds> = {
  windowMs: REPLAY_WINDOW_MS,
  entries: MAX_REPLAY_ENTRIES,
  entriesPerCaller: MAX_REPLAY_ENTRIES_PER_CALLER,
  bytes: MAX_REPLAY_BYTES,
  bytesPerCaller: MAX_REPLAY_BYTES_PER_CALLER,
  keptAnswerBytes: MAX_KEPT_ANSWER_BYTES,
  slabBytes: REPLAY_SLAB_BYTES,
  transitMarginMs: REPLAY_TRANSIT_MARGIN_MS,
};

/** A monotonic clock (wall-clock steps must not move the proof's times). */
const monotonic: Pick<Clock, 'now'> = { now: () => performance.now() };

export class ReplayMemory {
  /** `eps-instance` of the server that owns this memory: random, new for every memory. */
  readonly instance = randomId();
  readonly startedAt: number;
  private readonly callers = new Map<string, CallerState>();
  /** All entries, oldest first (a list through Entry.younger), and their count. */
  private oldest: Entry | undefined;
  private youngest: Entry | undefined;
  private count = 0;
  private seq = 0;
  /** As CallerState's, over all callers. */
  private cursor: Entry | undefined;
  private keepFrom = 0;
  /** Bytes held: slabs with a kept answer or still taking answers, and kept errors' messages. */
  private bytes = 0;
  private kept = 0;
  private slab: Slab | undefined;
  /** forgottenUpTo of callers whose state was dropped (their last entry forgotten). */
  private forgottenUpTo = -Infinity;

  constructor(
    private readonly clock: Pick<Clock, 'now'> = monotonic,
    readonly bounds: Readonly<ReplayBounds> = DEFAULT_REPLAY_BOUNDS,
  ) {
    this.startedAt = clock.now();
  }

  /** Calls remembered now, and the bytes held for their answers. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.count, bytes: this.bytes };
  }

  /**
   * What to do with a call from `caller` (its TLS-authenticated operator) carrying these header values;
   * undefined: not remembered (no token, or a malformed one, and no retry), run it as any call.
   */
  admit(caller: string, token: string | undefined, retry: string | undefined): Admission | undefined {
    const now = this.clock.now();
    this.expire(now);
    if (token === undefined || !validToken(token)) {
      return retry === undefined ? undefined : refuse('its eps-call-token is missing or malformed');
    }
    const state = this.callers.get(caller);
    const known = state?.byToken.get(token);
    if (known !== undefined) return replay(known);
    if (retry !== undefined) {
      const why = this.unproven(state, retry, now);
      if (why !== undefined) return refuse(why);
    }
    return { kind: 'run', entry: this.add(token, caller, now), retry: retry !== undefined };
  }

  /**
   * The call of `entry` ended with `answer`: calls waiting for it get it, and it is kept if it fits.
   * Answers go oldest first: room is made by dropping answers of older calls only; when an answer of a
   * younger call would have to go, this one is the oldest and is not kept (so every kept answer stays at
   * or after the cursors, where the drops look for it).
   */
  settle(entry: Entry, answer: Answer): void {
    entry.done = true;
    const waiters = entry.waiters;
    entry.waiters = undefined;
    if (waiters) for (const w of waiters) w(answer);
    const caller = entry.caller;
    // Forgotten, or older than answers already dropped.
    if (entry.forgotten || entry.seq < this.keepFrom || entry.seq < caller.keepFrom) return;
    const size = answer instanceof Error ? answer.message.length : answer.length;
    const { bytes, bytesPerCaller, keptAnswerBytes } = this.bounds;
    if (size > keptAnswerBytes || size > bytesPerCaller || size > bytes) return;
    while (caller.bytes + size > bytesPerCaller) {
      const oldest = oldestKept(caller.cursor, (e) => e.nextOfCaller);
      if (oldest === undefined || oldest.seq > entry.seq) return;
      this.dropAnswer(oldest);
      caller.cursor = oldest.nextOfCaller;
      caller.keepFrom = oldest.seq + 1;
    }
    while (this.bytes + this.growth(answer) > bytes && this.kept > 0) {
      const oldest = oldestKept(this.cursor, (e) => e.younger);
      if (oldest === undefined || oldest.seq > entry.seq) return;
      this.dropAnswer(oldest);
      this.cursor = oldest.younger;
      this.keepFrom = oldest.seq + 1;
    }
    if (answer instanceof Error) {
      entry.answer = answer;
      this.bytes += size;
    } else {
      entry.answer = this.place(entry, answer);
    }
    entry.bytes = size;
    caller.bytes += size;
    this.kept++;
  }

  /** What keeping `answer` adds to `bytes`: an error's message, or a new slab if the current one is full. */
  private growth(answer: Answer): number {
    if (answer instanceof Error) return answer.message.length;
    const slab = this.slab;
    if (slab !== undefined && slab.buf.length - slab.used >= answer.length) return 0;
    // The current slab goes (it is freed now if it holds no kept answer).
    const freed = slab !== undefined && slab.live === 0 ? slab.buf.length : 0;
    return Math.max(answer.length, this.bounds.slabBytes) - freed;
  }

  /**
   * A copy of `answer` in the current slab, or in a new one when it does not fit (settle() made room for
   * it). A copy: the encoder's buffer may be a slice of Node's shared pool, which keeping it would pin.
   */
  private place(entry: Entry, answer: Uint8Array): Uint8Array {
    const size = answer.length;
    let slab = this.slab;
    if (slab === undefined || slab.buf.length - slab.used < size) {
      if (slab !== undefined && slab.live === 0) this.bytes -= slab.buf.length;
      const slabSize = Math.max(size, this.bounds.slabBytes);
      slab = { buf: Buffer.allocUnsafeSlow(slabSize), used: 0, live: 0 };
      this.slab = slab;
      this.bytes += slabSize;
    }
    slab.buf.set(answer, slab.used);
    const view = new Uint8Array(slab.buf.buffer, slab.buf.byteOffset + slab.used, size);
    slab.used += size;
    slab.live++;
    entry.slab = slab;
    return view;
  }

  /** Why a retry whose original is unknown cannot be proven new; undefined: it can. */
  private unproven(caller: CallerState | undefined, value: string, now: number): string | undefined {
    const claim = parseRetry(value);
    if (claim === undefined) return 'its eps-retry header is malformed';
    if (claim.instance !== this.instance) {
      return 'the original was sent to another instance of this server (it restarted since)';
    }
    // The original arrived at the earliest `since` (its age, less what the retry's own way may have taken).
    const since = now - claim.ageMs - this.bounds.transitMarginMs;
    if (this.startedAt > since) return 'this server started after the original may have arrived';
    const forgotten = caller?.forgottenUpTo ?? this.forgottenUpTo;
    if (forgotten >= since) {
      return 'calls that arrived after the original was sent are no longer remembered (bounds of the replay memory)';
    }
    return undefined;
  }

  private add(token: string, callerName: string, now: number): Entry {
    const known = this.callers.get(callerName);
    while (known !== undefined && known.byToken.size >= this.bounds.entriesPerCaller)
      this.forget(known.oldest!);
    while (this.count >= this.bounds.entries) this.forget(this.oldest!);
    // Created after forgetting: forgetting a caller's last entry drops its state.
    let caller = this.callers.get(callerName);
    if (caller === undefined) {
      caller = {
        name: callerName,
        byToken: new Map(),
        oldest: undefined,
        youngest: undefined,
        cursor: undefined,
        keepFrom: 0,
        bytes: 0,
        forgottenUpTo: this.forgottenUpTo,
      };
      this.callers.set(callerName, caller);
    }
    const entry = new Entry(token, caller, now, this.seq++);
    caller.byToken.set(token, entry);
    this.count++;
    entry.older = this.youngest;
    if (this.youngest) this.youngest.younger = entry;
    else this.oldest = entry;
    this.youngest = entry;
    this.cursor ??= entry;
    if (caller.youngest) caller.youngest.nextOfCaller = entry;
    else caller.oldest = entry;
    caller.youngest = entry;
    caller.cursor ??= entry;
    return entry;
  }

  /** Forgets the calls older than the window (the oldest come first). */
  private expire(now: number): void {
    const before = now - this.bounds.windowMs;
    while (this.oldest !== undefined && this.oldest.arrival < before) this.forget(this.oldest);
  }

  /** Forgets `entry`, the oldest of its caller; a call still running goes on (its waiters get its answer). */
  private forget(entry: Entry): void {
    const caller = entry.caller;
    entry.forgotten = true;
    caller.byToken.delete(entry.token);
    this.count--;
    if (this.cursor === entry) this.cursor = entry.younger;
    if (caller.cursor === entry) caller.cursor = entry.nextOfCaller;
    if (entry.older) entry.older.younger = entry.younger;
    else this.oldest = entry.younger;
    if (entry.younger) entry.younger.older = entry.older;
    else this.youngest = entry.older;
    entry.older = entry.younger = undefined;
    caller.oldest = entry.nextOfCaller;
    if (caller.oldest === undefined) caller.youngest = undefined;
    entry.nextOfCaller = undefined;
    if (entry.answer !== undefined) this.dropAnswer(entry);
    if (entry.arrival > caller.forgottenUpTo) caller.forgottenUpTo = entry.arrival;
    if (caller.byToken.size === 0) {
      this.callers.delete(caller.name);
      if (caller.forgottenUpTo > this.forgottenUpTo) this.forgottenUpTo = caller.forgottenUpTo;
    }
  }

  /** Drops the kept answer of `entry` (its call stays known: a retry is told it was processed). */
  private dropAnswer(entry: Entry): void {
    const slab = entry.slab;
    if (slab === undefined) this.bytes -= entry.bytes;
    else if (--slab.live === 0 && slab !== this.slab) this.bytes -= slab.buf.length;
    entry.slab = undefined;
    entry.answer = undefined;
    entry.caller.bytes -= entry.bytes;
    entry.bytes = 0;
    this.kept--;
  }
}

/** The first entry from `from` on (following `next`) whose answer is kept; undefined: none. */
function oldestKept(from: Entry | undefined, next: (e: Entry) => Entry | undefined): Entry | undefined {
  let entry = from;
  while (entry !== undefined && entry.answer === undefined) entry = next(entry);
  return entry;
}

function refuse(reason: string): Admission {
  return { kind: 'refuse', reason };
}

function replay(entry: Entry): Admission {
  if (entry.done)
    return { kind: 'replay', answer: Promise.resolve(entry.answer ?? NOT_KEPT), running: false };
  if ((entry.waiters?.length ?? 0) >= MAX_REPLAY_WAITERS) {
    return refuse(`it still runs and ${MAX_REPLAY_WAITERS} calls already wait for it (MAX_REPLAY_WAITERS)`);
  }
  const answer = new Promise<Answer | typeof NOT_KEPT>((resolve) => (entry.waiters ??= []).push(resolve));
  return { kind: 'replay', answer, running: true };
}
