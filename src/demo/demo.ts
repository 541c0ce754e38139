/**
 * `npm run demo`: the seed document's P2P test network from bin/ with the dev settings — the service
 * directory (sd-1), two public proxies (public-proxy-1 and -2) and the eps servers hd-1, hd-2,
 * public-proxy-eps-1 and -2 — then `npm run sd-setup`, then `hd-2._ping` through hd-1's gateway (hd-2 is
 * reachable only through a proxy), then the same ping with public-proxy-1 stopped (it goes through
 * public-proxy-2; public-proxy-1 is started again afterwards). With `--all`, the private proxy's domain is
 * then also announced to public-proxy-2 and requested through its TLS port. Prints each JSON answer and the curl command
 * to repeat it, and keeps the network up until Ctrl-C.
 *
 * Options: `--once` stop after the calls (exit 0 only if every call succeeded); `--verbose` show the
 * servers' logs; `--all` also run the getting-started network (ls-1 + eps-ls: ls-1.add, ls-1.lookup) and the
 * private-proxy demo (internal-server behind private-proxy-1, reached through the public TLS port);
 * `--dir DIR` run with the dev settings in DIR/settings/dev (copied there from the package on first use),
 * e.g. from an installed package (`eps demo --dir DIR`); by default the package's own settings/dev.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { ensureCertificates } from '../tls/ensure-certs.js';
import { callGateway, curlCommand, type GatewayCall } from './gateway-call.js';
import { startDemoProcess, stopDemoProcesses, type DemoProcess } from './processes.js';
import { runDemoStep, type DemoStep } from './steps.js';
import {
  DEMO_DOMAIN,
  privateProxyCurl,
  requestThroughPublicProxy,
  SECOND_PUBLIC_TLS_PORT,
} from './public-call.js';
import type { DemoReply } from './https-request.js';
import { errorMessage } from '../core/errors.js';
import { prepareDemoWorkspace } from './workspace.js';

const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));
const USAGE = 'usage: demo [--once] [--verbose] [--all] [--dir DIR]';

function parseFlags(): { once: boolean; verbose: boolean; all: boolean; dir?: string | undefined } {
  try {
    return parseArgs({
      args: process.argv.slice(2),
      options: {
        once: { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        all: { type: 'boolean', default: false },
        dir: { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(`${errorMessage(e)}\n${USAGE}`);
    process.exit(2);
  }
}
const flags = parseFlags();
const { once, verbose, all } = flags;

const READY = /Waiting for CTRL-C|listening on/;
/** How long the calls are retried while the nodes pick up the directory and open their streams. */
const CALL_RETRY_MS = 60_000;

async function main(): Promise<number> {
  const workspace = await prepareDemoWorkspace(packageRoot, flags.dir);
  const root = workspace.workDir;
  if (workspace.copied) console.error(`copied the dev settings into ${join(root, 'settings/dev')}`);
  const certs = await ensureCertificates(root, 'dev');
  if (certs.action === 'generated') console.error(`generated development certificates in ${certs.certsDir}`);
  const procs: DemoProcess[] = [];
  const stop = async (): Promise<void> => stopDemoProcesses(procs);
  process.on('SIGINT', () => void stop().then(() => process.exit(0)));
  process.on('SIGTERM', () => void stop().then(() => process.exit(0)));
  const start = (
    label: string,
    bin: string,
    args: string[],
    env: Record<string, string> = {},
  ): DemoProcess => {
    const p = startDemoProcess(workspace, label, bin, args, env, READY, verbose);
    procs.push(p);
    return p;
  };
  const eps = (role: string): DemoProcess =>
    start(role, 'eps', ['server', 'run'], { EPS_SETTINGS: `settings/dev/roles/${role}` });
  try {
    await start('sd-1', 'sd', ['run'], { SD_SETTINGS: 'settings/dev/roles/sd-1' }).ready;
    const setup = await runDemoStep(
      root,
      'sd-setup',
      process.execPath,
      [join(packageRoot, 'dist/src/cli/sd-setup.js'), '--root', root],
      verbose,
    );
    if (!setup.ok) throw new Error(`sd-setup failed:\n${setup.output}`);
    const publicProxy = (n: number): DemoProcess =>
      start(`public-proxy-${n}`, 'proxy', ['run', 'public'], {
        PROXY_SETTINGS: `settings/dev/roles/public-proxy-${n}`,
      });
    let firstProxy = publicProxy(1);
    publicProxy(2);
    eps('hd-1');
    eps('hd-2');
    eps('public-proxy-eps-1');
    eps('public-proxy-eps-2');
    if (all) {
      start('eps-ls', 'eps-ls', [], { LS_BIND_ADDRESS: 'localhost:6666' });
      eps('ls-1');
      start('internal-server', 'internal-server', [], { IS_BIND_ADDRESS: 'localhost:7777' });
      start('private-proxy-1', 'proxy', ['run', 'private'], {
        PROXY_SETTINGS: 'settings/dev/roles/private-proxy-1',
      });
      eps('private-proxy-eps-1');
    }
    await Promise.all(procs.map((p) => p.ready));
    console.error(`network up: ${procs.map((p) => p.label).join(', ')}`);
    console.error(`settings and certificates in ${root} (run the curl commands from there)`);

    const calls: GatewayCall[] = [
      { operator: 'hd-1', port: 5555, method: 'hd-2._ping', id: '1', params: {} },
    ];
    if (all) {
      calls.push(
        {
          operator: 'hd-1',
          port: 5555,
          method: 'ls-1.add',
          id: '2',
          params: { name: 'Ginos', id: 'af5ca4da5caa' },
        },
        { operator: 'hd-1', port: 5555, method: 'ls-1.lookup', id: '3', params: { name: 'Ginos' } },
        {
          operator: 'hd-1',
          port: 5555,
          method: 'private-proxy-1.ga.announceConnection',
          id: '4',
          params: { domain: DEMO_DOMAIN, proxy: 'public-proxy-1.ga' },
        },
      );
    }
    let ok = true;
    const show = (title: string, reply: DemoReply, repeat?: string): void => {
      console.error(`\n# ${title} (HTTP ${reply.status})${repeat ? `; repeat with:\n${repeat}` : ''}`);
      console.log(pretty(reply.body));
      if (reply.status !== 200) ok = false;
    };
    const untilOk = (fn: () => Promise<DemoReply>): Promise<DemoReply> => retry(fn, (r) => r.status === 200);
    const viaGateway = (call: GatewayCall): Promise<DemoReply> => untilOk(() => callGateway(root, call));
    for (const call of calls) {
      show(`${call.method} through hd-1's gateway`, await viaGateway(call), curlCommand(call));
    }
    if (all) {
      const reply = await untilOk(() => requestThroughPublicProxy(root));
      show('the internal server behind private-proxy-1', reply, privateProxyCurl());
    }
    // hd-2 names two proxies: with the first one down, the ping is brokered through the second.
    await stopDemoProcesses([firstProxy]);
    const failover: GatewayCall = { ...calls[0]!, id: '5' };
    show(
      `${failover.method} again with public-proxy-1 stopped: through public-proxy-2`,
      await viaGateway(failover),
    );
    if (all) {
      // The private proxy serves its domain through the second public proxy too, once announced there.
      const announce: GatewayCall = {
        ...calls[3]!,
        id: '6',
        params: { domain: DEMO_DOMAIN, proxy: 'public-proxy-2.ga' },
      };
      show(`${announce.method} to public-proxy-2.ga`, await viaGateway(announce), curlCommand(announce));
      const reply = await untilOk(() => requestThroughPublicProxy(root, SECOND_PUBLIC_TLS_PORT));
      show('the internal server through public-proxy-2', reply, privateProxyCurl(SECOND_PUBLIC_TLS_PORT));
    }
    firstProxy = publicProxy(1);
    await firstProxy.ready;
    if (once) {
      await stop();
      return ok ? 0 : 1;
    }
    console.error('\nThe network keeps running; press Ctrl-C to stop it.');
    await new Promise(() => undefined);
    return 0;
  } catch (e) {
    console.error(`demo failed: ${errorMessage(e)}`);
    await stop();
    return 1;
  }
}

function pretty(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

async function retry<T>(fn: () => Promise<T>, good: (t: T) => boolean): Promise<T> {
  const end = Date.now() + CALL_RETRY_MS;
  for (;;) {
    let result: T | undefined;
    let error: unknown;
    try {
      result = await fn();
      if (good(result)) return result;
    } catch (e) {
      error = e;
    }
    if (Date.now() > end) {
      if (result !== undefined) return result;
      throw error;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export type { DemoStep };
process.exit(
  await main().catch((e: unknown) => {
    console.error(`demo failed: ${errorMessage(e)}`);
    return 1;
  }),
);
