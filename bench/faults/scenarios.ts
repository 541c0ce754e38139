/**
 * The fault scenarios of `npm run faults` (and, shortened, of test/faults), in the order they run. A
 * scenario that needs more roles names them: adding a variant is one entry here.
 */
import { devRoleExists } from './dev-network.js';
import type { FaultContext, Scenario, ScenarioResult } from './context.js';
import { nodeRestartSdDown, proxyEpsKill, restartUnderLoad, sdDown } from './restarts.js';
import { sdKill } from './sd-kill.js';
import { silentPeer } from './silent-peer.js';

/** The second public proxy (issue 11), with its own eps node when the dev network has one. */
const SECOND_PROXY = ['public-proxy-2', ...['public-proxy-eps-2'].filter(devRoleExists)];

type Run = (ctx: FaultContext, name: string) => Promise<ScenarioResult>;

function scenario(name: string, title: string, run: Run, roles?: string[]): Scenario {
  return { name, title, run: (ctx) => run(ctx, name), ...(roles ? { roles } : {}) };
}

export const SCENARIOS: Scenario[] = [
  scenario(
    'proxy-sigterm',
    'public-proxy-1 stopped with SIGTERM and started again under load, one proxy (public-proxy-2 not started)',
    restartUnderLoad('public-proxy-1', 'SIGTERM'),
  ),
  scenario(
    'proxy-sigkill',
    'public-proxy-1 killed with SIGKILL and started again under load, one proxy (public-proxy-2 not started)',
    restartUnderLoad('public-proxy-1', 'SIGKILL'),
  ),
  scenario(
    'peer-restart',
    'hd-2 (the callee) restarted with SIGTERM under load',
    restartUnderLoad('hd-2', 'SIGTERM'),
  ),
  scenario(
    'proxy-eps-kill',
    "the proxy's eps node killed with SIGKILL while hd-2 restarts (a new tunnel is needed)",
    proxyEpsKill,
  ),
  scenario('sd-kill-9', 'sd killed with SIGKILL during submissions; acknowledged records checked', sdKill),
  scenario('sd-down', 'sd-1 down for --seconds under load, then started again', sdDown),
  scenario('node-restart-sd-down', 'hd-1 restarted while sd-1 is down', nodeRestartSdDown),
  scenario('silent-peer', 'calls to a peer that accepts TCP and never answers, under load', silentPeer),
  scenario(
    'two-proxies-sigterm',
    'public-proxy-1 stopped with SIGTERM and started again under load, public-proxy-2 up',
    restartUnderLoad('public-proxy-1', 'SIGTERM'),
    SECOND_PROXY,
  ),
  scenario(
    'two-proxies-sigkill',
    'public-proxy-1 killed with SIGKILL and started again under load, public-proxy-2 up',
    restartUnderLoad('public-proxy-1', 'SIGKILL'),
    SECOND_PROXY,
  ),
];

export function scenarioByName(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`no scenario '${name}' (there are: ${SCENARIOS.map((x) => x.name).join(', ')})`);
  return s;
}
