/**
 * The P2P network of p2p-network.ts with a metrics listener (and so the status page) on every program,
 * plus a directory entry whose name is hostile HTML, for the status page tests; the seed ping hd-1 ->
 * hd-2 is made once, so a P2P tunnel through the proxy exists.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gatewayRequest, type TestNetwork } from './network.js';
import { p2pNetwork, PROXY_OPERATOR } from './p2p-network.js';
import { freePort } from './processes.js';
import { waitFor } from './wait.js';

/** An operator name that would run script if a page put it into HTML unescaped. */
export const HOSTILE_NAME = '<img src=x onerror="document.body.dataset.xss=1">evil';

export interface StatusNetwork {
  net: TestNetwork;
  /** Metrics port of each program: hd-1, hd-2, the proxy operator's eps, and `proxy` (the public proxy). */
  metrics: Record<'hd-1' | 'hd-2' | 'operator' | 'proxy', number>;
}

function addMetrics(file: string, port: number): void {
  const settings = JSON.parse(readFileSync(file, 'utf8')) as object;
  writeFileSync(file, JSON.stringify({ ...settings, metrics: { bind_address: `127.0.0.1:${port}` } }));
}

export async function statusNetwork(): Promise<StatusNetwork> {
  const { net, proxyDir } = await p2pNetwork();
  const at = '2021-05-17T10:00:00Z';
  net.records.push({ name: HOSTILE_NAME, section: 'groups', data: ['health-departments'], created_at: at });
  net.writeDirectory();
  const metrics = {
    'hd-1': await freePort(),
    'hd-2': await freePort(),
    operator: await freePort(),
    proxy: await freePort(),
  };
  addMetrics(join(net.settingsDir('hd-1'), '001_default.json'), metrics['hd-1']);
  addMetrics(join(net.settingsDir('hd-2'), '001_default.json'), metrics['hd-2']);
  addMetrics(join(net.settingsDir(PROXY_OPERATOR), '001_default.json'), metrics.operator);
  addMetrics(join(proxyDir, '001_default.json'), metrics.proxy);
  const operator = await net.start(PROXY_OPERATOR);
  await net.startProxy('public', proxyDir);
  await net.start('hd-1');
  await net.start('hd-2');
  await operator.waitFor(/reverse stream registered" peer=hd-2/);
  const port = net.ports.get('hd-1')!.gateway;
  const ping = { jsonrpc: '2.0', method: 'hd-2._ping', params: {}, id: '1' };
  await waitFor(async () => (await gatewayRequest(port, ping)).status === 200, {
    timeoutMs: 40_000,
    what: 'the seed ping through the proxy',
    intervalMs: 200,
  });
  return { net, metrics };
}

/** GETs a path of a metrics listener: status, content type, headers and body text (10 s deadline). */
export async function getPage(
  port: number,
  path: string,
): Promise<{ status: number; type: string; csp: string; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000) });
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    csp: res.headers.get('content-security-policy') ?? '',
    text: await res.text(),
  };
}
