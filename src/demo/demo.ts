/**
 * `npm run demo`: starts the documented dev network from bin/ with the dev settings, performs the documented
 * calls through hd-1's gateway, prints each JSON answer and the curl command to repeat it, and keeps the
 * network up until Ctrl-C (`--once`: stop after the calls; exit 0 only if every call succeeded).
 */
import { fileURLToPath } from 'node:url';
import { ensureCertificates } from '../tls/ensure-certs.js';
import { callGateway, curlCommand, type GatewayCall } from './gateway-call.js';
import { startDemoProcess, stopDemoProcesses, type DemoProcess } from './processes.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const once = process.argv.includes('--once');
const verbose = process.argv.includes('--verbose');

const READY = /Waiting for CTRL-C|listening on/;

async function main(): Promise<number> {
  const certs = await ensureCertificates(root, 'dev');
  if (certs.action === 'generated') console.error('generated development certificates in settings/dev/certs');
  const procs: DemoProcess[] = [];
  const stop = async (): Promise<void> => stopDemoProcesses(procs);
  process.on('SIGINT', () => void stop().then(() => process.exit(0)));
  process.on('SIGTERM', () => void stop().then(() => process.exit(0)));
  try {
    const start = (label: string, bin: string, args: string[], env: Record<string, string> = {}): void => {
      procs.push(startDemoProcess(root, label, bin, args, env, READY, verbose));
    };
    start('eps-ls', 'eps-ls', [], { LS_BIND_ADDRESS: 'localhost:6666' });
    start('ls-1', 'eps', ['server', 'run'], { EPS_SETTINGS: 'settings/dev/roles/ls-1' });
    start('hd-1', 'eps', ['server', 'run'], { EPS_SETTINGS: 'settings/dev/roles/hd-1' });
    await Promise.all(procs.map((p) => p.ready));
    console.error(`network up: ${procs.map((p) => p.label).join(', ')}`);

    const calls: GatewayCall[] = [
      {
        operator: 'hd-1',
        port: 5555,
        method: 'ls-1.add',
        id: '1',
        params: { name: 'Ginos', id: 'af5ca4da5caa' },
      },
      { operator: 'hd-1', port: 5555, method: 'ls-1.lookup', id: '2', params: { name: 'Ginos' } },
    ];
    let ok = true;
    for (const call of calls) {
      const reply = await callGateway(root, call);
      console.error(
        `\n# ${call.method} through hd-1's gateway (HTTP ${reply.status}); repeat with:\n${curlCommand(call)}`,
      );
      console.log(JSON.stringify(JSON.parse(reply.body), null, 2));
      if (reply.status !== 200) ok = false;
    }
    if (once) {
      await stop();
      return ok ? 0 : 1;
    }
    console.error('\nThe network keeps running; press Ctrl-C to stop it.');
    await new Promise(() => undefined);
    return 0;
  } catch (e) {
    console.error(`demo failed: ${(e as Error).message}`);
    await stop();
    return 1;
  }
}

process.exit(await main());
