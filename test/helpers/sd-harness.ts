/**
 * Helpers for service-directory tests: settings folders for real `sd` processes (file or Redis store),
 * an HTTPS JSON-RPC caller with a client certificate, record signing with the test PKI, an expired signing
 * certificate made on the fly, and a real redis-server on a free port.
 */
import 'reflect-metadata';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import https from 'node:https';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import type { JsonObject, JsonValue } from '../../src/core/json.js';
import type { RedisDatastoreSettings } from '../../src/settings/datastore-schema.js';
import type { ChangeRecord, SignedChangeRecord } from '../../src/core/directory-entry.js';
import { signRecords } from '../../src/records/index.js';
import { ensureCertificates } from '../../src/tls/ensure-certs.js';
import { freePort, killWithTests, REPO_ROOT, startProgram, type Running } from './processes.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export const TEST_CERTS = join(REPO_ROOT, 'settings/test/certs');
export const DEV_CERTS = join(REPO_ROOT, 'settings/dev/certs');
const DAY_MS = 86_400_000;

export async function ensureTestPki(): Promise<void> {
  await ensureCertificates(REPO_ROOT, 'test');
  await ensureCertificates(REPO_ROOT, 'dev');
}

export interface Signer {
  key: KeyObject;
  pem: string;
}

/** A signing key pair from a certs folder, e.g. loadSigner('hd-1-sign'). */
export function loadSigner(base: string, dir = TEST_CERTS): Signer {
  return {
    key: createPrivateKey(readFileSync(join(dir, `${base}.key`))),
    pem: readFileSync(join(dir, `${base}.crt`), 'utf8'),
  };
}

/** An sd-admin signing certificate for `name`, issued by the test intermediate, that expired yesterday. */
export async function expiredSigner(name: string): Promise<Signer> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const caKey = await webcrypto.subtle.importKey(
    'pkcs8',
    createPrivateKey(readFileSync(join(TEST_CERTS, 'intermediate.key'))).export({
      type: 'pkcs8',
      format: 'der',
    }),
    { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const ca = new x509.X509Certificate(readFileSync(join(TEST_CERTS, 'intermediate.crt'), 'utf8'));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: `01${randomBytes(8).toString('hex')}`,
    subject: `CN=${name}`,
    issuer: ca.subject,
    notBefore: new Date(Date.now() - 30 * DAY_MS),
    notAfter: new Date(Date.now() - DAY_MS),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.SubjectAlternativeNameExtension([
        { type: 'url', value: `iris-name://${name}` },
        { type: 'url', value: 'iris-group://sd-admin' },
        { type: 'dns', value: name },
      ]),
    ],
  });
  const key = createPrivateKey({
    key: Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
    format: 'der',
    type: 'pkcs8',
  });
  return { key, pem: cert.toString('pem') };
}

let clock = Date.now();
/** Strictly increasing RFC 3339 timestamps (1 ms apart), so every record hash is unique. */
export function nextCreatedAt(): string {
  clock = Math.max(clock + 1, Date.now());
  return new Date(clock).toISOString();
}

export function change(
  name: string,
  section: string,
  data: unknown[],
  createdAt = nextCreatedAt(),
): ChangeRecord {
  return { name, section, data: data as JsonValue[], created_at: createdAt };
}

export function sign(records: ChangeRecord[], parent: string, signer: Signer): SignedChangeRecord[] {
  return signRecords(records, parent, signer.key, signer.pem, { allowProperties: true });
}

/** A deep copy, for tampering. */
export function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export type StoreSettings =
  | { type: 'file'; filename: string }
  | { type: 'redis'; port: number; key?: string }
  /** A Redis Cluster: the nodes' ports. */
  | { type: 'redis'; ports: number[]; key?: string }
  /** Through Redis Sentinel: the sentinels' ports and the monitored master's name. */
  | { type: 'redis'; sentinelPorts: number[]; masterName: string; key?: string };

export interface SdSettingsOptions {
  store: StoreSettings;
  maxBodyBytes?: number;
  metricsPort?: number;
}

/** Writes an SD settings folder (TLS with the test sd-1 certificate, client certificates required). */
export function writeSdSettings(dir: string, options: SdSettingsOptions): string {
  mkdirSync(dir, { recursive: true });
  const cert = (f: string): string => JSON.stringify(join(TEST_CERTS, f));
  const s = options.store;
  const redisAddresses = (ports: number[]): string => ports.map((p) => `"127.0.0.1:${p}"`).join(', ');
  const store =
    s.type === 'file'
      ? `{type: file, settings: {filename: ${JSON.stringify(s.filename)}}}`
      : `{type: redis, settings: {addresses: [${redisAddresses('port' in s ? [s.port] : 'ports' in s ? s.ports : s.sentinelPorts)}], ` +
        `password: "", key: ${JSON.stringify(s.key ?? 'sd-entries')}` +
        `${'masterName' in s ? `, master_name: ${JSON.stringify(s.masterName)}` : ''}}}`;
  const lines = [
    'jsonrpc_server:',
    "  bind_address: '127.0.0.1:0'",
    '  path: /jsonrpc',
    ...(options.maxBodyBytes ? [`  max_body_bytes: ${options.maxBodyBytes}`] : []),
    '  tls:',
    `    ca_certificate_files: [${cert('root.crt')}]`,
    `    certificate_file: ${cert('sd-1.crt')}`,
    `    key_file: ${cert('sd-1.key')}`,
    'directory:',
    `  datastore: ${store}`,
    `  ca_certificate_files: [${cert('root.crt')}]`,
    `  ca_intermediate_certificate_files: [${cert('intermediate.crt')}]`,
    ...(options.metricsPort ? ['metrics:', `  bind_address: '127.0.0.1:${options.metricsPort}'`] : []),
  ];
  writeFileSync(join(dir, '001_sd.yml'), lines.join('\n') + '\n');
  return dir;
}

const SERVING = /Serving the service directory on https:\/\/127\.0\.0\.1:(\d+)\/jsonrpc/;

export interface RunningSd {
  process: Running;
  client: SdClient;
  port: number;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `bin/sd run` on the settings folder and waits until it serves. */
export async function startSd(settingsDir: string, args: string[] = []): Promise<RunningSd> {
  const running = startProgram('sd', [...args, 'run'], { SD_SETTINGS: settingsDir });
  await running.waitFor(SERVING, 30_000);
  const port = Number(SERVING.exec(running.output())![1]);
  const client = new SdClient(port);
  return {
    process: running,
    client,
    port,
    stop: async (signal) => {
      client.close();
      return running.stop(signal);
    },
  };
}

export interface RpcReply {
  status: number;
  body: JsonObject;
}

/** JSON-RPC over HTTPS to an sd, with the test hd-1 TLS certificate as client certificate. */
export class SdClient {
  private readonly agent: https.Agent;

  constructor(readonly port: number) {
    this.agent = new https.Agent({
      keepAlive: true,
      ca: readFileSync(join(TEST_CERTS, 'root.crt')),
      cert: readFileSync(join(TEST_CERTS, 'hd-1.crt')),
      key: readFileSync(join(TEST_CERTS, 'hd-1.key')),
      servername: 'sd-1',
    });
  }

  call(method: string, params: JsonValue = {}): Promise<RpcReply> {
    return this.raw(JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }));
  }

  /** The result of a successful call (fails the test with the error otherwise). */
  async result(method: string, params: JsonValue = {}): Promise<JsonValue | undefined> {
    const reply = await this.call(method, params);
    if (reply.body.error !== undefined) {
      throw new Error(`${method} failed: ${JSON.stringify(reply.body.error)}`);
    }
    return reply.body.result;
  }

  async records(after = ''): Promise<SignedChangeRecord[]> {
    return (await this.result('getRecords', { after })) as unknown as SignedChangeRecord[];
  }

  raw(body: string | Buffer, contentType = 'application/json'): Promise<RpcReply> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: this.port,
          path: '/jsonrpc',
          method: 'POST',
          agent: this.agent,
          headers: { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            try {
              resolve({
                status: res.statusCode ?? 0,
                body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonObject,
              });
            } catch (err) {
              reject(err);
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /**
   * Announces a body of `length` bytes and waits for the answer without sending it (a server that refuses
   * oversized requests answers at once; sending megabytes would only race with its connection close).
   */
  announce(length: number): Promise<RpcReply> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: this.port,
          path: '/jsonrpc',
          method: 'POST',
          agent: false,
          ca: readFileSync(join(TEST_CERTS, 'root.crt')),
          cert: readFileSync(join(TEST_CERTS, 'hd-1.crt')),
          key: readFileSync(join(TEST_CERTS, 'hd-1.key')),
          servername: 'sd-1',
          headers: { 'Content-Type': 'application/json', 'Content-Length': length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            req.destroy();
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonObject,
            });
          });
        },
      );
      req.on('error', reject);
      req.flushHeaders();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface RedisServer {
  port: number;
  child: ChildProcess;
  output(): string;
  /** Resolves when the server's log matches (e.g. a Sentinel event); rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function redisAvailable(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

/** `skip` option of the Redis suites: false, or why they cannot run here. */
export const redisSkip: false | string = redisAvailable()
  ? false
  : 'redis-server is not installed (CI installs it with apt-get)';

/** Settings of a Redis store on a single test server, under `key`. */
export function redisSettings(redis: { port: number }, key: string): RedisDatastoreSettings {
  return { addresses: [`127.0.0.1:${redis.port}`], password: '', database: 0, key, master_name: '' };
}

/**
 * Starts a throw-away redis-server (no persistence) on a free port. `args` are added (e.g.
 * `--replicaof`); `port` restarts one on the port of a stopped one; with `sentinel`, it runs as a Sentinel with these config lines (in a file of its own
 * working directory, as Sentinel rewrites its config file).
 */
export async function startRedis(
  options: { args?: string[]; sentinel?: string[]; ready?: RegExp; port?: number } = {},
): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  // Its own working directory: replicas write RDB files there during a sync, and nothing may land in the repo.
  const workDir = mkdtempSync(join(tmpdir(), 'redis-'));
  let args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    workDir,
  ];
  if (options.sentinel) {
    const config = join(workDir, 'sentinel.conf');
    writeFileSync(config, [`port ${port}`, 'bind 127.0.0.1', ...options.sentinel].join('\n') + '\n');
    args = [config, '--sentinel', '--dir', workDir];
  }
  const child = spawn('redis-server', [...args, ...(options.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killWithTests(child);
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const l of [...listeners]) l();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = once(child, 'exit');
  const waitFor = (pattern: RegExp, timeoutMs = 10_000): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        if (pattern.test(out)) done();
      };
      const onExit = (): void => done(new Error(`redis-server exited before ${pattern}:\n${out}`));
      const timer = setTimeout(
        () => done(new Error(`redis-server: no ${pattern} within ${timeoutMs} ms:\n${out}`)),
        timeoutMs,
      );
      listeners.add(check);
      child.once('exit', onExit);
      check();
    });
  try {
    await waitFor(options.ready ?? /Ready to accept connections/);
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
    throw e;
  }
  return {
    port,
    child,
    output: () => out,
    waitFor,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        await exited;
      }
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}
