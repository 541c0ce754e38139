/**
 * What bounds one call on every hop: its Deadline (deadline.ts) and its Cancellation, fired once when
 * whoever waits for the answer gives up (the HTTP caller disconnected, the calling peer reset the stream,
 * the deadline passed upstream). Every hop passes the same scope on, so an abort at the gateway reaches the
 * backend request at the far end.
 *
 * A plain listener list, not an AbortSignal: creating an AbortController costs 7 to 13 us on the shared
 * machine (EventTarget), more than the rest of a local call's bookkeeping; `signal()` builds one on demand
 * for APIs that need it.
 */
import { CodedError } from './errors.js';
import type { FailureKind, KnownFailure } from './outcome.js';
import { Deadline } from './deadline.js';

/** The deadline of a call passed at `hop` (e.g. "gateway of hd-1", "gRPC server"). */
export class DeadlineExceededError extends CodedError<'ERR_CORE_DEADLINE_EXCEEDED'> implements KnownFailure {
  override readonly name = 'DeadlineExceededError';
  readonly failure: FailureKind = 'deadlineExceeded';

  constructor(
    readonly hop: string,
    message = `deadline exceeded at ${hop}`,
  ) {
    super('ERR_CORE_DEADLINE_EXCEEDED', message);
  }
}

/** The caller gave up before the answer (disconnected, reset the stream, stopped waiting). */
export class CallCancelledError extends CodedError<'ERR_CORE_CANCELLED'> implements KnownFailure {
  override readonly name = 'CallCancelledError';
  readonly failure: FailureKind = 'cancelled';

  constructor(message: string) {
    super('ERR_CORE_CANCELLED', message);
  }
}

export type CancelListener = (reason: Error) => void;

export class Cancellation {
  private listeners: CancelListener[] | undefined;
  private why: Error | undefined;

  get cancelled(): boolean {
    return this.why !== undefined;
  }

  /** Why it was cancelled (undefined while not). */
  get reason(): Error | undefined {
    return this.why;
  }

  /** Cancels once (later calls are ignored) and runs the listeners. */
  cancel(reason: Error): void {
    if (this.why) return;
    this.why = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const l of listeners) l(reason);
  }

  /**
   * Runs `listener` when cancelled (at once if it already is); returns the function that removes it,
   * which every hop calls once its call has ended.
   */
  onCancel(listener: CancelListener): () => void {
    if (this.why) {
      listener(this.why);
      return noop;
    }
    (this.listeners ??= []).push(listener);
    return () => {
      const i = this.listeners?.indexOf(listener) ?? -1;
      if (i >= 0) this.listeners!.splice(i, 1);
    };
  }

  /** An AbortSignal aborted with the reason when this is cancelled, for APIs that take one. */
  signal(): AbortSignal {
    const controller = new AbortController();
    this.onCancel((reason) => controller.abort(reason));
    return controller.signal;
  }
}

function noop(): void {}

/** The deadline and cancellation of one call, handed from hop to hop (broker, channels, gRPC). */
export interface CallScope {
  /** When the caller needs the answer by; every wait that serves the call is cut to it. */
  readonly deadline: Deadline;
  /** Fired when the caller gave up; every hop stops its part of the work (RST_STREAM, socket closed). */
  readonly cancellation: Cancellation;
  /**
   * Do not wait for an unreachable next hop to come back (one safe retry only, channels/safe-retry.ts):
   * asynchronous calls, which the outbox keeps instead, and calls that a retry loop of their own makes.
   */
  readonly failFast?: boolean;
}

/** A scope that only `ms` bound (internal work with no caller who could go away). */
export function scopeAfter(ms: number): CallScope {
  return { deadline: Deadline.after(ms), cancellation: new Cancellation() };
}

/**
 * A fresh scope without a deadline of its own, for calls whose caller set none (a peer that sends no
 * grpc-timeout, like the original): each hop's own timeout still bounds its part.
 */
export function unboundedScope(): CallScope {
  return { deadline: Deadline.unbounded(), cancellation: new Cancellation() };
}

/** Ends a call when its scope does: `onEnd` gets a DeadlineExceededError at `hop` or the cancel reason. */
export function watchScope(scope: CallScope, hop: string, onEnd: (reason: Error) => void): () => void {
  const timer = scope.deadline.onExpire(() => onEnd(new DeadlineExceededError(hop)));
  const unsubscribe = scope.cancellation.onCancel(onEnd);
  return () => {
    scope.deadline.cancelExpire(timer);
    unsubscribe();
  };
}

/**
 * Settles like `work`, or rejects when the scope ends first (DeadlineExceededError at `hop`, or the cancel
 * reason). `work` itself goes on: for shared work such as a pooled connection being dialled, which other
 * calls may still use.
 */
export function untilScopeEnds<T>(work: Promise<T>, scope: CallScope, hop: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const stop = watchScope(scope, hop, reject);
    work.then(
      (value) => {
        stop();
        resolve(value);
      },
      (e: unknown) => {
        stop();
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
