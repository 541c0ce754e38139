/**
 * Scenarios that stop and start processes of the network under load: a proxy, the callee, the proxy's eps
 * node, the service directory, and the calling node while the service directory is down.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { FaultContext, ScenarioResult } from './context.js';
import { BackgroundLoad, recoveryMs, summarise, type CallRecord } from './load.js';

/** Load before the fault, so that the first calls' brokering is not part of the figures. */
const WARM_UP_MS = 1000;

function result(
  name: string,
  calls: CallRecord[],
  recover: number | undefined,
  notes: string[] = [],
): ScenarioResult {
  const s = summarise(calls);
  if (s.firstError) notes.push(`first error: ${s.firstError.slice(0, 160)}`);
  const r: ScenarioResult = {
    name,
    calls: s.calls,
    failed: s.failed,
    maybeProcessed: s.maybeProcessed,
    notes: notes.join('; '),
  };
  if (recover !== undefined) r.recoverMs = recover;
  return r;
}

/** Runs the load, calls `fault` after the warm-up, keeps the load for `seconds` more. */
async function underLoad(
  ctx: FaultContext,
  fault: () => Promise<number>,
): Promise<{ calls: CallRecord[]; faultAt: number; listenedAt: number }> {
  const load = new BackgroundLoad(ctx.client, ctx.options.concurrency);
  try {
    await delay(WARM_UP_MS);
    const faultAt = performance.now();
    const listenedAt = await fault();
    await delay(ctx.options.seconds * 1000);
    return { calls: load.calls, faultAt, listenedAt };
  } finally {
    await load.stop();
  }
}

/** hd-2's metrics listener in the dev port map (settings/dev/README.md). */
const CALLEE_METRICS_DEV_PORT = 2113;
const REPLAYS = /^eps_grpc_replays_total\{outcome="([a-z_]+)"\} (\d+)/gm;

/** The callee's (hd-2's) retries after a lost connection by outcome (channels/replayed-calls.ts); {} if unreadable. */
async function calleeReplays(ctx: FaultContext): Promise<Record<string, number>> {
  try {
    const port = ctx.net.port(CALLEE_METRICS_DEV_PORT);
    const res = await fetch(`http://localhost:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const counts: Record<string, number> = {};
    for (const m of (await res.text()).matchAll(REPLAYS)) counts[m[1]!] = Number(m[2]);
    return counts;
  } catch {
    return {};
  }
}

/**
 * What hd-2's replay memory did during the scenario: calls lost with a proxy and retried that it answered
 * once (joined or replayed: each would have failed before), ran as proven new, or refused.
 */
function replayNote(before: Record<string, number>, after: Record<string, number>): string {
  const delta = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);
  const answered = delta('joined') + delta('replayed');
  return (
    `hd-2 replay memory: ${answered} retried calls answered without running again, ${delta('run')} run as ` +
    `proven new, ${delta('refused')} refused, ${delta('not_kept')} answers no longer kept`
  );
}

/** Stops `role` with `signal` under load and starts it again at once. */
export function restartUnderLoad(role: string, signal: NodeJS.Signals) {
  return async (ctx: FaultContext, name: string): Promise<ScenarioResult> => {
    // hd-2's counters start again from 0 when hd-2 itself restarts.
    const counting = role !== 'hd-2';
    const before = counting ? await calleeReplays(ctx) : {};
    const { calls, faultAt, listenedAt } = await underLoad(ctx, async () => {
      await ctx.net.restart(role, signal);
      return ctx.net.listened(role);
    });
    const notes = [`${role} ${signal}`];
    if (counting) notes.push(replayNote(before, await calleeReplays(ctx)));
    return result(name, calls, recoveryMs(calls, faultAt, listenedAt), notes);
  };
}

/**
 * kill -9 of the proxy's eps node while a new tunnel is needed (the callee restarts meanwhile, so hd-1 must
 * broker again); recovery counts from the later of the two listening again.
 */
export async function proxyEpsKill(ctx: FaultContext, name: string): Promise<ScenarioResult> {
  const eps = 'public-proxy-eps-1';
  const { calls, faultAt, listenedAt } = await underLoad(ctx, async () => {
    await ctx.net.stop(eps, 'SIGKILL');
    await ctx.net.restart('hd-2', 'SIGTERM');
    await ctx.net.start(eps);
    return Math.max(ctx.net.listened(eps), ctx.net.listened('hd-2'));
  });
  return result(name, calls, recoveryMs(calls, faultAt, listenedAt), [
    `${eps} SIGKILL, hd-2 restarted meanwhile`,
  ]);
}

/** sd-1 killed for `seconds` under load, then started again: P2P calls must not notice. */
export async function sdDown(ctx: FaultContext, name: string): Promise<ScenarioResult> {
  const load = new BackgroundLoad(ctx.client, ctx.options.concurrency);
  let faultAt = 0;
  try {
    await delay(WARM_UP_MS);
    faultAt = performance.now();
    await ctx.net.stop('sd-1', 'SIGKILL');
    await delay(ctx.options.seconds * 1000);
    await ctx.net.start('sd-1');
    await delay(Math.min(2000, ctx.options.seconds * 1000));
  } finally {
    await load.stop();
  }
  const calls = load.calls;
  const down = calls.filter((c) => c.start >= faultAt && c.end <= ctx.net.listened('sd-1'));
  return result(name, calls, recoveryMs(calls, faultAt, ctx.net.listened('sd-1')), [
    `sd-1 down ${ctx.options.seconds} s: ${down.filter((c) => c.ok).length} of ${down.length} calls meanwhile succeeded`,
  ]);
}

/**
 * hd-1 restarted while sd-1 is down: the load starts when hd-1 listens (calls to a stopped gateway are
 * not what this measures); sd-1 comes back after `seconds`.
 */
export async function nodeRestartSdDown(ctx: FaultContext, name: string): Promise<ScenarioResult> {
  await ctx.net.stop('sd-1', 'SIGKILL');
  const restarted = async (): Promise<CallRecord[]> => {
    await ctx.net.restart('hd-1', 'SIGTERM');
    const load = new BackgroundLoad(ctx.client, ctx.options.concurrency);
    try {
      await delay(ctx.options.seconds * 1000);
    } finally {
      await load.stop();
    }
    return load.calls;
  };
  const calls = await restarted().finally(() => ctx.net.start('sd-1'));
  const listenedAt = ctx.net.listened('hd-1');
  return result(name, calls, recoveryMs(calls, listenedAt, listenedAt), [
    `hd-1 restarted with sd-1 down; ${calls.filter((c) => c.ok).length} of ${calls.length} calls succeeded in ${ctx.options.seconds} s`,
  ]);
}
