/**
 * Builds throw-away eps networks for integration tests: settings and directory files in a temp folder,
 * test certificates from settings/test/certs (generated when missing), ports chosen by the OS.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCertificates } from '../../src/tls/ensure-certs.js';
import type { JsonObject, JsonValue } from '../../src/core/json.js';
import { newEntry, type DirectoryEntry } from '../../src/core/directory-entry.js';
import { freePort, REPO_ROOT, startProgram, type Running } from './processes.js';

export const CERTS = join(REPO_ROOT, 'settings/test/certs');

/** Directory entries with only the pinned certificates of every test operator (from the generated records). */
export function pinnedEntries(): Map<string, DirectoryEntry> {
  const file = join(CERTS, '../directory/002_certificates.json');
  const { records } = JSON.parse(readFileSync(file, 'utf8')) as {
    records: { name: string; data: DirectoryEntry['certificates'] }[];
  };
  return new Map(records.map((r) => [r.name, { ...newEntry(r.name), certificates: r.data }]));
}

export async function testCertificates(): Promise<string> {
  await ensureCertificates(REPO_ROOT, 'test');
  return CERTS;
}

export function tlsBlock(name: string, extra: JsonObject = {}): JsonObject {
  return {
    ca_certificate_files: [join(CERTS, 'root.crt')],
    certificate_file: join(CERTS, `${name}.crt`),
    key_file: join(CERTS, `${name}.key`),
    ...extra,
  };
}

export interface NodeSpec {
  name: string;
  groups?: string[];
  services?: JsonValue[];
  gateway?: boolean;
  /** `proxies` is published as given (also malformed), after `proxy`. */
  grpcServer?: boolean | { proxy?: string; proxies?: JsonValue; internal?: boolean; publish?: boolean };
  grpcClient?: boolean | JsonObject;
  backend?: string;
  backendTimeout?: number;
  /** The gateway's `call_timeout` (seconds; the schema's default when unset). */
  gatewayCallTimeout?: number;
  /** TLS server name of the backend (HTTPS with this node's client certificate). */
  backendTls?: string;
  stdout?: boolean;
  /** Serve Prometheus metrics on this port. */
  metricsPort?: number;
  /** Channel order; default: stdout, jsonrpc_client, grpc_server, grpc_client, jsonrpc_server. */
  order?: string[];
  /** The `async` settings block (default: a file store in the network's folder, never the shared cwd). */
  async?: JsonObject;
}

export interface NodePorts {
  gateway: number;
  grpc: number;
}

export class TestNetwork {
  readonly dir: string;
  readonly ports = new Map<string, NodePorts>();
  readonly records: JsonObject[] = [];
  private readonly procs: Running[] = [];

  constructor(readonly specs: NodeSpec[]) {
    this.dir = mkdtempSync(join(tmpdir(), 'eps-net-'));
    mkdirSync(join(this.dir, 'directory'));
  }

  async prepare(extraRecords: JsonObject[] = []): Promise<void> {
    await testCertificates();
    for (const s of this.specs) this.ports.set(s.name, { gateway: await freePort(), grpc: await freePort() });
    const at = '2021-05-17T10:00:00Z';
    for (const s of this.specs) {
      const channels: JsonValue[] = [];
      const g = s.grpcServer;
      if (g && !(typeof g === 'object' && g.publish === false)) {
        const settings: JsonObject = { address: `127.0.0.1:${this.ports.get(s.name)!.grpc}` };
        if (typeof g === 'object' && g.proxy) settings.proxy = g.proxy;
        if (typeof g === 'object' && g.proxies !== undefined) settings.proxies = g.proxies;
        if (typeof g === 'object' && g.internal) settings.internal = true;
        channels.push({ type: 'grpc_server', settings });
      }
      if (s.grpcClient) channels.push({ type: 'grpc_client' });
      this.records.push({ name: s.name, section: 'channels', data: channels, created_at: at });
      this.records.push({ name: s.name, section: 'groups', data: s.groups ?? [], created_at: at });
      this.records.push({ name: s.name, section: 'services', data: s.services ?? [], created_at: at });
    }
    this.records.push(...extraRecords);
    this.writeDirectory();
    copyFileSync(
      join(REPO_ROOT, 'settings/test/directory/002_certificates.json'),
      join(this.dir, 'directory/002_certificates.json'),
    );
    for (const s of this.specs) this.writeSettings(s);
  }

  writeDirectory(): void {
    writeFileSync(
      join(this.dir, 'directory/001_base.json'),
      JSON.stringify({ records: this.records }, null, 1),
    );
  }

  settingsDir(name: string): string {
    return join(this.dir, 'settings', name);
  }

  private writeSettings(s: NodeSpec): void {
    const ports = this.ports.get(s.name)!;
    const byType: Record<string, JsonObject> = {};
    if (s.stdout) byType.stdout = { name: 'stdout', type: 'stdout', settings: {} };
    if (s.backend) {
      const settings: JsonObject = { endpoint: s.backend, timeout: s.backendTimeout ?? 5 };
      if (s.backendTls) settings.tls = tlsBlock(s.name, { server_name: s.backendTls });
      byType.jsonrpc_client = { name: 'backend', type: 'jsonrpc_client', settings };
    }
    if (s.grpcServer) {
      byType.grpc_server = {
        name: 'gRPC server',
        type: 'grpc_server',
        settings: { bind_address: `127.0.0.1:${ports.grpc}`, tls: tlsBlock(s.name) },
      };
    }
    if (s.grpcClient) {
      const extra = typeof s.grpcClient === 'object' ? s.grpcClient : {};
      byType.grpc_client = {
        name: 'gRPC client',
        type: 'grpc_client',
        settings: { tls: tlsBlock(s.name), call_timeout: 5, connect_timeout: 3, ...extra },
      };
    }
    if (s.gateway !== false) {
      byType.jsonrpc_server = {
        name: 'gateway',
        type: 'jsonrpc_server',
        settings: {
          bind_address: `127.0.0.1:${ports.gateway}`,
          tls: tlsBlock(s.name),
          cors: { allowed_hosts: ['^http(?:s)?://localhost\\:\\d+$'] },
          max_body_bytes: 65536,
          ...(s.gatewayCallTimeout ? { call_timeout: s.gatewayCallTimeout } : {}),
        },
      };
    }
    const order = s.order ?? ['stdout', 'jsonrpc_client', 'grpc_server', 'grpc_client', 'jsonrpc_server'];
    const channels = order.filter((t) => byType[t]).map((t) => byType[t]!);
    const settings = {
      name: s.name,
      directory: { type: 'json', settings: { path: join(this.dir, 'directory') } },
      channels,
      ...(s.metricsPort ? { metrics: { bind_address: `127.0.0.1:${s.metricsPort}` } } : {}),
      async: s.async ?? { store: { type: 'file', settings: { directory: join(this.dir, 'async') } } },
    };
    mkdirSync(this.settingsDir(s.name), { recursive: true });
    writeFileSync(join(this.settingsDir(s.name), '001_default.json'), JSON.stringify(settings, null, 1));
  }

  /** Writes settings for a public proxy run by operator `name` (whose eps must use `backend` = control URL). */
  writePublicProxy(
    name: string,
    ports: { tls: number; internal: number; control: number },
    extra: JsonObject = {},
  ): string {
    const dir = join(this.dir, 'settings', `${name}-proxy`);
    mkdirSync(dir, { recursive: true });
    const settings = {
      public: {
        name,
        datastore: { type: 'file', settings: { filename: join(this.dir, `${name}-proxy.records`) } },
        tls_bind_address: `127.0.0.1:${ports.tls}`,
        internal_bind_address: `127.0.0.1:${ports.internal}`,
        internal_endpoint: `127.0.0.1:${ports.internal}`,
        accept_timeout: 5,
        jsonrpc_client: {
          endpoint: `https://127.0.0.1:${this.ports.get(name)!.gateway}/jsonrpc`,
          tls: tlsBlock(name, { server_name: name }),
        },
        jsonrpc_server: { bind_address: `127.0.0.1:${ports.control}`, tls: tlsBlock(name) },
        ...extra,
      },
    };
    writeFileSync(join(dir, '001_default.json'), JSON.stringify(settings, null, 1));
    return dir;
  }

  async startProxy(kind: 'public' | 'private', settingsDir: string): Promise<Running> {
    const p = startProgram('proxy', ['run', kind], { PROXY_SETTINGS: settingsDir });
    this.procs.push(p);
    await p.waitFor(/Waiting for CTRL-C/);
    return p;
  }

  async start(
    name: string,
    extraEnv: Record<string, string> = {},
    globalArgs: string[] = [],
  ): Promise<Running> {
    const p = startProgram('eps', [...globalArgs, 'server', 'run'], {
      EPS_SETTINGS: this.settingsDir(name),
      ...extraEnv,
    });
    this.procs.push(p);
    await p.waitFor(/Waiting for CTRL-C/);
    return p;
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The Prometheus text of a node's metrics listener (plain HTTP), within 10 s. */
export async function metricsText(metricsPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
  return res.text();
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: JsonObject;
}

/** POSTs to a gateway with a client certificate of `as` (default: the node itself). */
export function gatewayRequest(
  port: number,
  body: string | JsonValue,
  opts: {
    as?: string;
    name?: string;
    contentType?: string;
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    certDir?: string;
  } = {},
): Promise<HttpReply> {
  const certDir = opts.certDir ?? CERTS;
  const as = opts.as ?? opts.name ?? 'hd-1';
  const data = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: opts.path ?? '/jsonrpc',
        method: opts.method ?? 'POST',
        servername: opts.name ?? 'hd-1',
        ca: readFileSync(join(CERTS, 'root.crt')),
        cert: readFileSync(join(certDir, `${as}.crt`)),
        key: readFileSync(join(certDir, `${as}.key`)),
        checkServerIdentity: () => undefined,
        headers: { 'Content-Type': opts.contentType ?? 'application/json', ...opts.headers },
        agent: false,
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          let json: JsonObject = {};
          try {
            json = JSON.parse(text) as JsonObject;
          } catch {
            /* not JSON: left empty, tests look at text */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}
