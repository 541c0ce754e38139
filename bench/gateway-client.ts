/** Keep-alive HTTPS JSON-RPC client for benchmarks (one agent per run, sockets = concurrency). */
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GatewayReply {
  status: number;
  text: string;
}

export interface GatewayCaller {
  /** Resolves true on HTTP 200; rejects with the status and the start of the body otherwise. */
  call: (method: string, params?: object) => Promise<boolean>;
  /**
   * Any HTTP answer; rejects only when there is none (connection refused or lost, `timeoutMs`). `id`: the
   * JSON-RPC id (default: a number counting up).
   */
  request: (method: string, params?: object, id?: string | number) => Promise<GatewayReply>;
  close: () => void;
}

export function gatewayCaller(
  certDir: string,
  operator: string,
  port: number,
  concurrency: number,
  timeoutMs = 30_000,
): GatewayCaller {
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: concurrency,
    ca: readFileSync(join(certDir, 'root.crt')),
    cert: readFileSync(join(certDir, `${operator}.crt`)),
    key: readFileSync(join(certDir, `${operator}.key`)),
    servername: operator,
  });
  let n = 0;
  const request = (method: string, params: object = {}, id: string | number = ++n): Promise<GatewayReply> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ jsonrpc: '2.0', method, params, id });
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path: '/jsonrpc',
          method: 'POST',
          agent,
          headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
          timeout: timeoutMs,
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body);
    });
  const call = async (method: string, params: object = {}): Promise<boolean> => {
    const reply = await request(method, params);
    if (reply.status !== 200) throw new Error(`HTTP ${reply.status}: ${reply.text.slice(0, 200)}`);
    return true;
  };
  return { call, request, close: () => agent.destroy() };
}
