/**
 * A gRPC client built on @grpc/grpc-js (an independent implementation) to talk to our servers in tests,
 * proving wire compatibility with a standard gRPC stack, with any certificate and any claimed name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { REPO_ROOT } from './processes.js';

const definition = protoLoader.loadSync(join(REPO_ROOT, 'proto/eps.proto'), {
  keepCase: true,
  defaults: false,
  oneofs: true,
});
const pkg = grpc.loadPackageDefinition(definition) as unknown as {
  EPS: new (address: string, creds: grpc.ChannelCredentials, options: object) => grpc.Client;
};

export interface ForeignReply {
  id?: string;
  result?: unknown;
  error?: { code?: number; message?: string; data?: unknown };
}

export function foreignClient(port: number, certDir: string, as: string, serverName: string): grpc.Client {
  const creds = grpc.credentials.createSsl(
    readFileSync(join(certDir, 'root.crt')),
    readFileSync(join(certDir, `${as}.key`)),
    readFileSync(join(certDir, `${as}.crt`)),
  );
  return new pkg.EPS(`127.0.0.1:${port}`, creds, {
    'grpc.ssl_target_name_override': serverName,
    'grpc.default_authority': serverName,
  });
}

export function toStruct(obj: Record<string, unknown>): unknown {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = toValue(v);
  return { fields };
}
function toValue(v: unknown): unknown {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v as Record<string, unknown>) };
}

export function fromStruct(s: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = (s as { fields?: Record<string, unknown> } | undefined)?.fields ?? {};
  for (const [k, v] of Object.entries(fields)) out[k] = fromValue(v);
  return out;
}
function fromValue(v: unknown): unknown {
  const x = v as Record<string, unknown>;
  if ('stringValue' in x) return x.stringValue;
  if ('numberValue' in x) return x.numberValue;
  if ('boolValue' in x) return x.boolValue;
  if ('structValue' in x) return fromStruct(x.structValue);
  if ('listValue' in x) return ((x.listValue as { values?: unknown[] }).values ?? []).map(fromValue);
  return null;
}

export function foreignCall(
  client: grpc.Client,
  request: { method: string; id: string; clientName: string; params?: Record<string, unknown> },
): Promise<ForeignReply> {
  return new Promise((resolve, reject) => {
    const wire = { ...request, params: request.params ? toStruct(request.params) : undefined };
    (
      client as unknown as Record<
        string,
        (r: unknown, cb: (e: grpc.ServiceError | null, r: ForeignReply) => void) => void
      >
    ).Call!(wire, (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

export interface ForeignServer {
  port: number;
  close(): Promise<void>;
}

/**
 * A @grpc/grpc-js server with the EPS service, to test our client against an independent gRPC stack.
 * `Call` answers with `{ echo: method, params }`, `fail` gives status 7, `slow` never answers;
 * `ServerCall` answers every Response it receives with a Request whose method is the response's id.
 */
export async function foreignServer(certDir: string, name: string): Promise<ForeignServer> {
  const server = new grpc.Server();
  const service = (pkg.EPS as unknown as { service: grpc.ServiceDefinition }).service;
  server.addService(service, {
    Call: (
      call: grpc.ServerUnaryCall<{ method: string; id: string; params?: unknown }, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      const { method, id, params } = call.request;
      if (method === 'slow') return;
      if (method === 'fail') {
        callback({ code: 7, details: 'denied ✓ 100%' }, null);
        return;
      }
      callback(null, { id, result: toStruct({ echo: method, params: fromStruct(params) }) });
    },
    ServerCall: (stream: grpc.ServerDuplexStream<{ id: string }, unknown>) => {
      stream.on('data', (response: { id: string }) => {
        if (response.id === 'end') stream.end();
        else stream.write({ method: response.id, id: response.id });
      });
    },
  });
  const creds = grpc.ServerCredentials.createSsl(
    readFileSync(join(certDir, 'root.crt')),
    [
      {
        cert_chain: readFileSync(join(certDir, `${name}.crt`)),
        private_key: readFileSync(join(certDir, `${name}.key`)),
      },
    ],
    false,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}
