/**
 * `silent-peer`: a peer that accepts TCP connections and never sends a byte. ls-1 is not part of the fault
 * network; a listener on its gRPC port plays it. Calls to it must fail within the client's connect timeout
 * (no hang), and the P2P load to hd-2 that runs meanwhile must not notice.
 */
import net from 'node:net';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { withDeadline } from '../../test/helpers/wait.js';
import type { FaultContext, ScenarioResult } from './context.js';
import { BackgroundLoad, callOnce, summarise } from './load.js';

/** ls-1's gRPC port in the dev port map. */
const LS1_GRPC_DEV_PORT = 4445;
/** Calls to the silent peer, started together. */
const SILENT_CALLS = 4;
/** A call to the silent peer counts as hung after this (the default connect timeout is 10 s). */
export const SILENT_CALL_LIMIT_MS = 40_000;

export async function silentPeer(ctx: FaultContext, name: string): Promise<ScenarioResult> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(ctx.net.port(LS1_GRPC_DEV_PORT), '127.0.0.1');
  await once(server, 'listening');
  const load = new BackgroundLoad(ctx.client, ctx.options.concurrency);
  const caller = ctx.newClient(SILENT_CALLS);
  try {
    const t0 = performance.now();
    const silent = await withDeadline(
      Promise.all(Array.from({ length: SILENT_CALLS }, () => callOnce(caller, 'ls-1.lookup', { name: 'x' }))),
      { timeoutMs: SILENT_CALL_LIMIT_MS, what: 'the calls to the silent peer to end' },
    );
    const rest = ctx.options.seconds * 1000 - (performance.now() - t0);
    if (rest > 0) await delay(rest);
    await load.stop();
    const s = summarise(load.calls);
    const slowest = Math.max(...silent.map((c) => c.end - c.start));
    const accepted = silent.filter((c) => !c.ok).length;
    return {
      name,
      calls: s.calls,
      failed: s.failed,
      maybeProcessed: s.maybeProcessed,
      notes:
        `${accepted} of ${SILENT_CALLS} calls to the silent peer failed, the last after ${(slowest / 1000).toFixed(1)} s` +
        (s.firstError ? `; first load error: ${s.firstError.slice(0, 160)}` : ''),
    };
  } finally {
    await load.stop();
    caller.close();
    for (const s of sockets) s.destroy();
    server.close();
  }
}
