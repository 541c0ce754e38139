/**
 * A small real JSON-RPC HTTPS server (mutual TLS, test certificate sd-1) speaking the SD's record methods —
 * `getRecords`, `getTip`, `submitRecords`, `getEntries` — over a chain the test controls directly. Lets the
 * api directory be tested against misbehaving servers (rollbacks, forks, garbage) and against an SD that goes
 * away and comes back on the same port. Also: signing helpers over the test PKI.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { JsonValue } from '../../src/core/json.js';
import type { ChangeRecord, SignedChangeRecord } from '../../src/core/directory-entry.js';
import { signRecords } from '../../src/records/index.js';
import { loadSec1PrivateKey } from '../../src/records-tools/signing-identity.js';
import type { ApiDirectorySettings } from '../../src/settings/index.js';
import { CERTS } from './network.js';

export interface RpcRequest {
  method: string;
  params: Record<string, unknown>;
}

/** Overrides the answer to one request: return a result, or undefined for the default behaviour. */
export type Responder = (request: RpcRequest) => { result?: JsonValue; error?: JsonValue } | undefined;

export class RecordsServer {
  chain: SignedChangeRecord[] = [];
  responder: Responder | undefined;
  readonly calls: RpcRequest[] = [];
  private server: https.Server | undefined;
  private portNumber = 0;

  get port(): number {
    return this.portNumber;
  }

  get url(): string {
    return `https://127.0.0.1:${this.portNumber}/jsonrpc`;
  }

  /** Listens on `port` (0 = OS-chosen on the first start, the same port again on restarts). */
  async start(port = this.portNumber): Promise<void> {
    const server = https.createServer(
      {
        ca: readFileSync(join(CERTS, 'root.crt')),
        cert: readFileSync(join(CERTS, 'sd-1.crt')),
        key: readFileSync(join(CERTS, 'sd-1.key')),
        requestCert: true,
        rejectUnauthorized: true,
        keepAliveTimeout: 60_000,
      },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
            method: string;
            params: Record<string, unknown>;
            id: JsonValue;
          };
          const answer = this.answer({ method: body.method, params: body.params ?? {} });
          const reply: Record<string, JsonValue> = { jsonrpc: '2.0', id: body.id };
          if (answer.error !== undefined) reply.error = answer.error;
          else if (answer.result !== undefined) reply.result = answer.result;
          res.writeHead(answer.error === undefined ? 200 : 400, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(reply));
        });
      },
    );
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.portNumber = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and drops every open connection (the SD "goes away"). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  }

  private answer(request: RpcRequest): { result?: JsonValue; error?: JsonValue } {
    this.calls.push(request);
    const custom = this.responder?.(request);
    if (custom) return custom;
    const chain = this.chain as unknown as JsonValue[];
    switch (request.method) {
      case 'getRecords': {
        const after = typeof request.params.after === 'string' ? request.params.after : '';
        const at = this.chain.findIndex((r) => r.hash === after);
        return { result: after === '' || at < 0 ? chain : chain.slice(at + 1) };
      }
      case 'getTip':
        return this.chain.length === 0 ? {} : { result: chain[chain.length - 1]! };
      case 'submitRecords': {
        const records = request.params.records as SignedChangeRecord[];
        for (const record of records) {
          const tip = this.chain[this.chain.length - 1]?.hash ?? '';
          if (record.parent_hash === '') this.chain = [record];
          else if (record.parent_hash === tip) this.chain.push(record);
          else return { error: { code: -32603, message: 'internal error' } };
        }
        return { result: 'ok' };
      }
      default:
        return { error: { code: -32601, message: 'method not found' } };
    }
  }
}

/** Signs change records as one chain with a test signing certificate (`hd-1-sign` is the sd-admin). */
export function signWith(
  signer: string,
  records: readonly ChangeRecord[],
  parent: string,
): SignedChangeRecord[] {
  const key = loadSec1PrivateKey(readFileSync(join(CERTS, `${signer}.key`), 'utf8'), signer);
  return signRecords(records, parent, key, readFileSync(join(CERTS, `${signer}.crt`), 'utf8'));
}

/** `groups` records for operators `op-<from>`…, all created at `createdAt`. */
export function groupRecords(count: number, createdAt: string, from = 0, group = 'g'): ChangeRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `op-${from + i}`,
    section: 'groups',
    data: [group, `n-${from + i}`],
    created_at: createdAt,
  }));
}

/** Api directory settings pointing at `endpoints`, with the client certificate of `client` and the test CA. */
export function apiSettings(
  endpoints: string[],
  overrides: Partial<ApiDirectorySettings> = {},
  timeoutSeconds = 5,
  client = 'hd-1',
): ApiDirectorySettings {
  return {
    endpoints,
    server_names: ['sd-1'],
    cache_entries_for: 3600,
    jsonrpc_client: {
      local: true,
      timeout: timeoutSeconds,
      tls: {
        ca_certificate_files: [join(CERTS, 'root.crt')],
        certificate_file: join(CERTS, `${client}.crt`),
        key_file: join(CERTS, `${client}.key`),
        verify_client: true,
        request_client_cert: false,
        insecure_skip_verify: false,
      },
    },
    ca_certificate_files: [join(CERTS, 'root.crt')],
    ca_intermediate_certificate_files: [join(CERTS, 'intermediate.crt')],
    exchange_tips: true,
    ...overrides,
  };
}
