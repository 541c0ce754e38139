/**
 * Runs fault scenarios on one dev network: starts the base roles once, and before each scenario makes sure
 * every role it needs runs and a P2P call succeeds; afterwards waits (bounded) until calls succeed again.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../../src/core/errors.js';
import { gatewayCaller, type GatewayCaller } from '../gateway-client.js';
import { untilCallSucceeds, type FaultOptions, type Scenario, type ScenarioResult } from './context.js';
import { DevNetwork, devRoleExists } from './dev-network.js';

/** The network every scenario starts from (the second proxy joins for the scenarios that name it). */
export const BASE_ROLES = ['sd-1', 'public-proxy-1', 'public-proxy-eps-1', 'hd-1', 'hd-2'];
/** hd-1's gateway in the dev port map. */
const HD1_GATEWAY_DEV_PORT = 5555;
/** How long the network may take to route a call again before and after a scenario. */
export const SETTLE_MS = 60_000;
/** A single call gives up after this (the gateway's own call timeout is 30 s). */
const CALL_TIMEOUT_MS = 45_000;

export class FaultRun {
  readonly net: DevNetwork;
  client!: GatewayCaller;

  constructor(
    readonly dir: string,
    readonly options: FaultOptions,
  ) {
    this.net = new DevNetwork(dir);
  }

  async start(): Promise<void> {
    await this.net.prepare();
    if (this.options.connectTimeout !== undefined)
      this.net.setConnectTimeout('hd-1', this.options.connectTimeout);
    await this.net.startAll(BASE_ROLES);
    this.client = this.newClient(this.options.concurrency);
    await untilCallSucceeds(this.client, SETTLE_MS);
  }

  newClient(sockets: number): GatewayCaller {
    const port = this.net.port(HD1_GATEWAY_DEV_PORT);
    return gatewayCaller(this.net.certs, 'hd-1', port, sockets, CALL_TIMEOUT_MS);
  }

  /** Why the scenario cannot run here, or undefined. */
  missing(s: Scenario): string | undefined {
    const absent = (s.roles ?? []).filter((r) => !devRoleExists(r));
    return absent.length ? `no ${absent.join(', ')} in settings/dev/roles` : undefined;
  }

  async run(s: Scenario): Promise<ScenarioResult> {
    const dir = join(this.dir, s.name);
    mkdirSync(dir, { recursive: true });
    try {
      for (const role of [...BASE_ROLES, ...(s.roles ?? [])])
        if (!this.net.isRunning(role)) await this.net.start(role);
      await untilCallSucceeds(this.client, SETTLE_MS);
      const result = await s.run({
        net: this.net,
        client: this.client,
        newClient: (n) => this.newClient(n),
        options: this.options,
        dir,
      });
      for (const role of BASE_ROLES) if (!this.net.isRunning(role)) await this.net.start(role);
      await untilCallSucceeds(this.client, SETTLE_MS);
      return result;
    } catch (e) {
      return { name: s.name, calls: 0, failed: NaN, maybeProcessed: NaN, notes: `ERROR: ${errorMessage(e)}` };
    }
  }

  async stop(): Promise<void> {
    this.client?.close();
    await this.net.stopAll();
  }
}
