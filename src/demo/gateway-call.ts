/** A JSON-RPC call to a dev gateway with the operator's client certificate, as the documented curl does. */
import { httpsRequest, type DemoReply } from './https-request.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GatewayCall {
  operator: string;
  port: number;
  method: string;
  params: Record<string, unknown>;
  id: string;
}

export function curlCommand(call: GatewayCall): string {
  const body = JSON.stringify({ method: call.method, id: call.id, params: call.params, jsonrpc: '2.0' });
  const c = 'settings/dev/certs';
  return (
    `curl --cert ${c}/${call.operator}.crt --key ${c}/${call.operator}.key --cacert ${c}/root.crt ` +
    `--resolve ${call.operator}:${call.port}:127.0.0.1 https://${call.operator}:${call.port}/jsonrpc ` +
    `--header "Content-Type: application/json" --data '${body}'`
  );
}

export function callGateway(root: string, call: GatewayCall, timeoutMs = 15_000): Promise<DemoReply> {
  const certs = join(root, 'settings/dev/certs');
  const body = JSON.stringify({ method: call.method, id: call.id, params: call.params, jsonrpc: '2.0' });
  return httpsRequest(
    {
      port: call.port,
      path: '/jsonrpc',
      method: 'POST',
      servername: call.operator,
      ca: readFileSync(join(certs, 'root.crt')),
      cert: readFileSync(join(certs, `${call.operator}.crt`)),
      key: readFileSync(join(certs, `${call.operator}.key`)),
      headers: { 'Content-Type': 'application/json' },
    },
    body,
    timeoutMs,
  );
}
