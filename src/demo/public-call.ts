/** The proxy docs' demo request: HTTPS to the public proxy's TLS port with SNI test.internal-server.local. */
import https from 'node:https';
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

export function requestThroughPublicProxy(
  root: string,
  timeoutMs = 10_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: PUBLIC_TLS_PORT,
        path: '/jsonrpc',
        method: 'GET',
        servername: DEMO_DOMAIN,
        ca: readFileSync(join(root, 'settings/dev/certs/root.crt')),
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
