/**
 * How the `grpc_server` channel serves a call that carries `eps-call-token` [docs/protocol.md#replay-memory]: the
 * replay memory (replay-memory.ts) decides whether it runs, gets the answer of the first call with its
 * token, or (a retry that cannot be proven new) is refused. A call that runs keeps running when its
 * connection is lost, until its deadline (at most REPLAY_WINDOW_MS after its arrival), so that a retry on
 * another connection collects its answer.
 */
import { Counter } from 'prom-client';
import { registry } from '../core/metrics-registry.js';
import { logger } from '../core/log.js';
import { Cancellation, DeadlineExceededError, type CallScope } from '../core/cancellation.js';
import type { TimerHandle } from '../core/clock.js';
import { MAY_HAVE_BEEN_PROCESSED_NOT_RUN, OUTCOMES } from '../core/outcome.js';
import type { CallContext } from '../grpc/server.js';
import { GrpcError } from '../grpc/status.js';
import { CALL_TOKEN_HEADER, RETRY_HEADER } from '../grpc/replay-headers.js';
import { NOT_KEPT, REPLAY_WINDOW_MS, ReplayMemory, type Answer, type Entry } from './replay-memory.js';
import { errorMessage } from '../core/errors.js';

const log = logger('grpc-server');

/**
 * `replayed`: answered with a finished call's answer; `joined`: waited for the running call's answer;
 * `not_kept`: processed, but its answer was not kept; `run`: a retry proven new, run; `refused`: a retry
 * that could not be proven new, not run.
 */
type ReplayOutcome = 'replayed' | 'joined' | 'not_kept' | 'run' | 'refused';

const retried = new Counter({
  name: 'eps_grpc_replays_total',
  help: 'Calls the gRPC server received again with a known token, or as a retry after a lost connection, by outcome',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

function count(outcome: ReplayOutcome): void {
  retried.inc({ outcome });
}

export class ReplayedCalls {
  /** Calls running on after their connection was lost (bounded: MAX_DETACHED_CALLS). */
  readonly detached = { count: 0 };

  constructor(
    /** Who we are, for the messages (e.g. "the gRPC server of ls-1"). */
    private readonly label: string,
    readonly memory = new ReplayMemory(),
  ) {}

  /**
   * Serves the call `id` from `caller` (its TLS-authenticated operator): `run` does the work, within the
   * scope it is given; calls without a token or retry header run as any call.
   */
  async serve(
    caller: string,
    id: string,
    ctx: CallContext,
    run: (scope: CallScope) => Promise<Uint8Array>,
  ): Promise<Uint8Array> {
    const token = ctx.headers[CALL_TOKEN_HEADER];
    const retry = ctx.headers[RETRY_HEADER];
    if (token === undefined && retry === undefined) return run(ctx);
    const admission = this.memory.admit(caller, token, retry);
    if (admission === undefined) return run(ctx);
    const fields = { caller, id };
    if (admission.kind === 'refuse') {
      count('refused');
      log.warn('retried call refused: it may have been processed', { ...fields, reason: admission.reason });
      const message = `${this.label} did not run this retried call: ${admission.reason}; ${MAY_HAVE_BEEN_PROCESSED_NOT_RUN}`;
      throw new GrpcError(OUTCOMES.peerUnreachable.grpc, message);
    }
    if (admission.kind === 'replay') {
      // Counted when it starts waiting: a call that waits for a running one gets that one's answer.
      if (admission.running) count('joined');
      const answer = await admission.answer;
      if (answer === NOT_KEPT) {
        count('not_kept');
        log.warn('call received again was already processed; its answer is not kept', fields);
        const message = `${this.label} already processed this call and did not run it again, but its answer was not kept (bounds of the replay memory)`;
        throw new GrpcError(OUTCOMES.peerUnreachable.grpc, message);
      }
      if (!admission.running) count('replayed');
      log.info("call received again answered with the first call's answer", {
        ...fields,
        running: admission.running,
      });
      if (answer instanceof Error) throw answer;
      return answer;
    }
    if (admission.retry) {
      count('run');
      log.info('retried call run: the replay memory proves it never arrived before', fields);
    }
    const { scope, done } = keepOnConnectionLoss(ctx, this.label, this.detached);
    let answer: Uint8Array;
    try {
      answer = await run(scope);
    } catch (e) {
      this.settle(admission.entry, e instanceof Error ? e : new Error(String(e)), fields);
      throw e;
    } finally {
      done();
    }
    this.settle(admission.entry, answer, fields);
    return answer;
  }

  /**
   * Remembers the answer of a call that ran. A failure of the memory itself is logged, never the call's
   * answer: the call was processed, and its own answer (or error) is what its caller gets.
   */
  private settle(entry: Entry, answer: Answer, fields: { caller: string; id: string }): void {
    try {
      this.memory.settle(entry, answer);
    } catch (e) {
      log.error('the replay memory failed to keep an answer', { ...fields, error: errorMessage(e) });
    }
  }
}

/**
 * Remembered calls that go on after their connection was lost, at most, per server: beyond, such a call
 * stops with its connection as any call (a peer that drops connections cannot pile up work this way).
 */
export const MAX_DETACHED_CALLS = 1024;

/**
 * The scope of a remembered call: cancelled with the call's, except when its connection was lost; then it
 * ends at the call's deadline, or REPLAY_WINDOW_MS after its arrival if that is sooner (the memory forgets
 * it then: no retry can collect its answer later); a
 * call without a deadline, or beyond MAX_DETACHED_CALLS, stops with its connection, as any call.
 */
function keepOnConnectionLoss(
  ctx: CallContext,
  hop: string,
  detached: { count: number },
): { scope: CallScope; done: () => void } {
  if (ctx.deadline.at === Infinity) return { scope: ctx, done: noop };
  const cancellation = new Cancellation();
  // From its arrival: the memory forgets the call REPLAY_WINDOW_MS after it, so no retry collects it later.
  const until = ctx.deadline.within(REPLAY_WINDOW_MS);
  let timer: TimerHandle | undefined;
  let counted = false;
  const unsubscribe = ctx.cancellation.onCancel((reason) => {
    if (!ctx.connectionLost || detached.count >= MAX_DETACHED_CALLS) return cancellation.cancel(reason);
    detached.count++;
    counted = true;
    timer = until.onExpire(() => cancellation.cancel(new DeadlineExceededError(hop)));
  });
  return {
    scope: { deadline: ctx.deadline, cancellation },
    done: () => {
      unsubscribe();
      ctx.deadline.cancelExpire(timer);
      if (counted) detached.count--;
    },
  };
}

function noop(): void {}
