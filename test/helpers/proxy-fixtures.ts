/**
 * Fixtures for proxy tests with real sockets: a stand-in for a proxy's own EPS (a real JSON-RPC HTTP server
 * on 127.0.0.1 whose answers the test scripts), calls to a proxy's control API with a chosen client
 * certificate, `_client` objects, settings built through the real schemas, and small socket waits.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonObject, JsonValue } from '../../src/core/json.js';
import { newEntry } from '../../src/core/directory-entry.js';
import { FileDatastore } from '../../src/datastore/file-store.js';
import { PrivateProxy } from '../../src/proxy/private/private-proxy.js';
import { PublicProxy } from '../../src/proxy/public/public-proxy.js';
import { privateProxySchema, publicProxySchema } from '../../src/settings/proxy-schema.js';
import { CERTS, testCertificates, tlsBlock } from './network.js';
import { waitFor, withDeadline } from './wait.js';

export interface EpsCall {
  method: string;
  params: JsonObject;
  id: JsonValue;
}

export type EpsAnswer =
  { result: JsonValue } | { error: { code: number; message: string; data?: JsonValue } };
export type EpsScript = (call: EpsCall) => Promise<EpsAnswer | 'hang' | 'drop'> | EpsAnswer | 'hang' | 'drop';

/** A real HTTP JSON-RPC server playing the proxy's own EPS gateway. */
export class EpsStandIn {
  readonly calls: EpsCall[] = [];
  private readonly server: http.Server;
  port = 0;

  constructor(public script: EpsScript = () => ({ result: {} })) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonObject;
        const call: EpsCall = {
          method: body.method as string,
          params: body.params as JsonObject,
          id: body.id ?? null,
        };
        this.calls.push(call);
        void Promise.resolve(this.script(call)).then((answer) => {
          if (answer === 'hang') return;
          if (answer === 'drop') {
            req.socket.destroy();
            return;
          }
          const text = JSON.stringify({ jsonrpc: '2.0', ...answer, id: '' });
          res.writeHead('error' in answer ? 400 : 200, { 'content-type': 'application/json' }).end(text);
        });
      });
    });
  }

  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}/jsonrpc`;
  }

  /** Resolves once at least `count` calls have arrived. */
  async waitForCalls(count: number, timeoutMs = 5_000): Promise<EpsCall[]> {
    await waitFor(() => this.calls.length >= count, { timeoutMs, what: `${count} calls at the fake eps` });
    return this.calls;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** `_client` as an EPS injects it, with optional proxy settings records. */
export function clientInfo(name: string, settings: JsonValue[] = []): JsonObject {
  const entry = newEntry(name) as unknown as JsonObject;
  entry.settings = settings;
  return { name, entry };
}

export function proxySettingsRecord(allowedDomains: JsonValue, operator = ''): JsonObject {
  return {
    operator,
    service: 'proxy',
    environment: 'production',
    settings: { allowed_domains: allowedDomains },
  };
}

export interface ApiReply {
  status: number;
  body: JsonObject;
}

/** Calls a control API over HTTPS, presenting the certificate of `as`. */
export function callControl(
  port: number,
  method: string,
  params: JsonObject,
  opts: { as?: string; servername?: string } = {},
): Promise<ApiReply> {
  const as = opts.as ?? 'public-proxy-1.ga';
  const body = JSON.stringify({ jsonrpc: '2.0', method, params, id: '1' });
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/jsonrpc',
        method: 'POST',
        servername: opts.servername ?? as,
        ca: readFileSync(join(CERTS, 'root.crt')),
        cert: readFileSync(join(CERTS, `${as}.crt`)),
        key: readFileSync(join(CERTS, `${as}.key`)),
        checkServerIdentity: () => undefined,
        headers: { 'content-type': 'application/json' },
        agent: false,
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as JsonObject }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The control API block for a proxy named `name` on an OS-chosen port. */
export function controlServerSettings(name: string, extra: JsonObject = {}): JsonObject {
  return { bind_address: '127.0.0.1:0', tls: tlsBlock(name), ...extra };
}

/** A temp folder with a file datastore in it; `cleanup` removes the folder. */
export function tempStore(): { dir: string; file: string; store: () => FileDatastore; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'proxy-store-'));
  const file = join(dir, 'announcements.db');
  return {
    dir,
    file,
    store: () => new FileDatastore(file),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function connectTo(port: number, allowHalfOpen = false): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen });
  socket.on('error', () => undefined);
  return once(socket, 'connect').then(() => socket);
}

/** Resolves when the socket is closed (by either side), with the bytes it received meanwhile. */
export function untilClosed(socket: net.Socket, timeoutMs = 5_000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  if (socket.closed) return Promise.resolve(Buffer.alloc(0));
  const closed = new Promise<Buffer>((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))));
  return withDeadline(closed, { timeoutMs, what: 'the socket to close' });
}

/** Reads exactly `n` bytes from the socket. */
export function readExactly(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const onReadable = (): void => {
      const chunk = socket.read(n) as Buffer | null;
      if (chunk === null) return;
      cleanup();
      resolve(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error(`socket ended before ${n} bytes`));
    };
    const cleanup = (): void => {
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    onReadable();
  });
}

export const PUBLIC_NAME = 'public-proxy-1.ga';
/** The test public proxy's `accept_timeout` and `handshake_timeout` (seconds). */
export const ACCEPT_TIMEOUT_S = 2;
export const HANDSHAKE_TIMEOUT_S = 0.3;
export const PRIVATE_NAME = 'private-proxy-1.ga';
export const DOMAIN = 'test.internal-server.local';
/** The advertised internal endpoint in tests (sent verbatim; tests dial the real port). */
export const ADVERTISED_ENDPOINT = 'localhost:9999';

/** `_client` of the private proxy operator, allowed to announce `.internal-server.local`. */
export function privateProxyClient(domains: JsonValue = ['.internal-server.local']): JsonObject {
  return clientInfo(PRIVATE_NAME, [proxySettingsRecord(domains)]);
}

export interface PublicHarness {
  proxy: PublicProxy;
  eps: EpsStandIn;
  api: number;
  front: number;
  internal: number;
  storeFile: string;
  /** Stops the proxy and the EPS stand-in; removes the store unless `keepStore`. */
  stop(keepStore?: boolean): Promise<void>;
}

export async function startPublicProxy(
  opts: { settings?: JsonObject; script?: EpsScript; storeFile?: string } = {},
): Promise<PublicHarness> {
  await testCertificates();
  const eps = await new EpsStandIn(opts.script).start();
  const temp = opts.storeFile === undefined ? tempStore() : undefined;
  const storeFile = opts.storeFile ?? temp!.file;
  const settings = publicProxySchema.parse({
    name: PUBLIC_NAME,
    datastore: { type: 'file', settings: { filename: storeFile } },
    tls_bind_address: '127.0.0.1:0',
    internal_bind_address: '127.0.0.1:0',
    internal_endpoint: ADVERTISED_ENDPOINT,
    accept_timeout: ACCEPT_TIMEOUT_S,
    handshake_timeout: HANDSHAKE_TIMEOUT_S,
    jsonrpc_client: { endpoint: eps.endpoint, timeout: 2 },
    jsonrpc_server: controlServerSettings(PUBLIC_NAME),
    ...opts.settings,
  });
  const proxy = new PublicProxy(settings, { datastore: new FileDatastore(storeFile) });
  let addresses;
  try {
    addresses = await proxy.start();
  } catch (error) {
    await eps.stop();
    temp?.cleanup();
    throw error;
  }
  return {
    proxy,
    eps,
    api: addresses.control.port,
    front: addresses.tls.port,
    internal: addresses.internal.port,
    storeFile,
    async stop(keepStore = false) {
      await proxy.stop();
      await eps.stop();
      if (!keepStore) temp?.cleanup();
    },
  };
}

/** Announces `domains` for the private proxy operator through the control API (as its EPS would). */
export async function announce(
  harness: { api: number },
  connections: JsonValue[],
  client: JsonObject = privateProxyClient(),
): Promise<ApiReply> {
  return callControl(harness.api, 'announceConnections', { connections, _client: client });
}

export interface PrivateHarness {
  proxy: PrivateProxy;
  eps: EpsStandIn;
  api: number;
  stop(): Promise<void>;
}

/** A private proxy with an EPS stand-in and a temp store; `settings` overrides the defaults. */
export async function startPrivateProxy(
  opts: { settings?: JsonObject; script?: EpsScript; storeFile?: string } = {},
): Promise<PrivateHarness> {
  await testCertificates();
  const eps = await new EpsStandIn(opts.script).start();
  const temp = opts.storeFile === undefined ? tempStore() : undefined;
  const settings = privateProxySchema.parse({
    name: PRIVATE_NAME,
    datastore: { type: 'file', settings: { filename: opts.storeFile ?? temp!.file } },
    internal_endpoint: { address: '127.0.0.1:1' },
    jsonrpc_client: { endpoint: eps.endpoint, timeout: 2 },
    jsonrpc_server: controlServerSettings(PRIVATE_NAME),
    ...opts.settings,
  });
  const proxy = new PrivateProxy(settings, {
    datastore: new FileDatastore(opts.storeFile ?? temp!.file),
  });
  const { control } = await proxy.start();
  return {
    proxy,
    eps,
    api: control.port,
    async stop() {
      await proxy.stop();
      await eps.stop();
      temp?.cleanup();
    },
  };
}
