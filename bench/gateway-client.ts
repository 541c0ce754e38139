/** Keep-alive HTTPS JSON-RPC client for benchmarks (one agent per run, sockets = concurrency). */
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function gatewayCaller(
  certDir: string,
  operator: string,
  port: number,
  concurrency: number,
): { call: (method: string, params?: object) => Promise<boolean>; close: () => void } {
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: concurrency,
    ca: readFileSync(join(certDir, 'root.crt')),
    cert: readFileSync(join(certDir, `${operator}.crt`)),
    key: readFileSync(join(certDir, `${operator}.key`)),
    servername: operator,
  });
  let n = 0;
  const call = (method: string, params: object = {}): Promise<boolean> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ jsonrpc: '2.0', method, params, id: ++n });
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path: '/jsonrpc',
          method: 'POST',
          agent,
          headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
          timeout: 30_000,
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => {
            if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
            else resolve(true);
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body);
    });
  return { call, close: () => agent.destroy() };
}
