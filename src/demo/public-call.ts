/** The proxy docs' demo request: HTTPS to the public proxy's TLS port with SNI test.internal-server.local. */
import { httpsRequest, type DemoReply } from './https-request.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEMO_DOMAIN = 'test.internal-server.local';
export const PUBLIC_TLS_PORT = 4433;

export function privateProxyCurl(): string {
  return (
    `curl --cacert settings/dev/certs/root.crt --resolve ${DEMO_DOMAIN}:${PUBLIC_TLS_PORT}:127.0.0.1 ` +
    `https://${DEMO_DOMAIN}:${PUBLIC_TLS_PORT}/jsonrpc`
  );
}

export function requestThroughPublicProxy(root: string, timeoutMs = 10_000): Promise<DemoReply> {
  return httpsRequest(
    {
      port: PUBLIC_TLS_PORT,
      path: '/jsonrpc',
      method: 'GET',
      servername: DEMO_DOMAIN,
      ca: readFileSync(join(root, 'settings/dev/certs/root.crt')),
    },
    undefined,
    timeoutMs,
  );
}
