/** What a fault scenario gets (the running network, a client of hd-1's gateway, its options) and returns. */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { GatewayCaller } from '../gateway-client.js';
import type { DevNetwork } from './dev-network.js';
import { callOnce } from './load.js';

export interface FaultOptions {
  /** How long the load runs after the fault (and, for `sd-down`, how long the sd stays down). */
  seconds: number;
  /** Kills of the `sd-kill-9` scenario. */
  kills: number;
  /** Concurrency of the load. */
  concurrency: number;
  /** hd-1's gRPC connect timeout in seconds; default: its dev settings' (the default, 10 s). */
  connectTimeout?: number;
}

export interface FaultContext {
  net: DevNetwork;
  /** hd-1's gateway, with `concurrency` sockets. */
  client: GatewayCaller;
  /** Another client of hd-1's gateway with sockets of its own (calls that must not queue behind the load). */
  newClient(sockets: number): GatewayCaller;
  options: FaultOptions;
  /** A folder of the run for the scenario's own files and logs. */
  dir: string;
}

export interface ScenarioResult {
  name: string;
  calls: number;
  failed: number;
  /** Failed calls whose error says they may have been processed. */
  maybeProcessed: number;
  /** From the restarted process listening to the first successful call; undefined: no call succeeded. */
  recoverMs?: number;
  /** Acknowledged records missing afterwards (scenarios that write records). */
  recordsLost?: number;
  notes: string;
}

export interface Scenario {
  name: string;
  /** One line for the table's legend. */
  title: string;
  /** Roles that must run besides the base network (the scenario is skipped when one has no folder). */
  roles?: string[];
  run(ctx: FaultContext): Promise<ScenarioResult>;
}

/** The P2P call every scenario's load makes. */
export const P2P_METHOD = 'hd-2._ping';

/** Resolves once a call succeeds, with the milliseconds it took; rejects after `timeoutMs`. */
export async function untilCallSucceeds(
  client: GatewayCaller,
  timeoutMs: number,
  method = P2P_METHOD,
): Promise<number> {
  const t0 = performance.now();
  let last = '';
  while (performance.now() - t0 < timeoutMs) {
    const r = await callOnce(client, method);
    if (r.ok) return performance.now() - t0;
    last = r.error ?? '';
    await delay(100);
  }
  throw new Error(`no successful ${method} within ${timeoutMs} ms; last error: ${last}`);
}
