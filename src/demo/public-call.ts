/** The proxy docs' demo request: HTTPS to the public proxy's TLS port with SNI test.internal-server.local. */
import { httpsRequest, type DemoReply } from './https-request.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEMO_DOMAIN = 'test.internal-server.local';
export const PUBLIC_TLS_PORT = 4433;
/** public-proxy-2's TLS port. */
export const SECOND_PUBLIC_TLS_PORT = 4434;

export function privateProxyCurl(port = PUBLIC_TLS_PORT): string {
  return (
    `curl --cacert settings/dev/certs/root.crt --resolve ${DEMO_DOMAIN}:${port}:127.0.0.1 ` +
    `https://${DEMO_DOMAIN}:${port}/jsonrpc`
  );
}

export function requestThroughPublicProxy(
  root: string,
  port = PUBLIC_TLS_PORT,
  timeoutMs = 10_000,
): Promise<DemoReply> {
  return httpsRequest(
    {
      port,
      path: '/jsonrpc',
      method: 'GET',
      servername: DEMO_DOMAIN,
      ca: readFileSync(join(root, 'settings/dev/certs/root.crt')),
    },
    undefined,
    timeoutMs,
  );
}
