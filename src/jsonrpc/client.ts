/**
 * JSON-RPC 2.0 client over HTTP(S) [docs/protocol.md#backends], improved: connections are kept alive and
 * reused, every call has a timeout, responses are size-limited, and an HTTP proxy (`proxy_url`) is supported
 * for both http (absolute-URI requests) and https (CONNECT tunnel) endpoints.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { CodedError } from '../core/errors.js';
import type { FailureKind } from '../core/outcome.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../core/json.js';
import { Deadline } from '../core/deadline.js';
import type { CallScope } from '../core/cancellation.js';
import { baseContextOptions, loadTls, type TlsConfig } from '../tls/options.js';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from './json-depth.js';

export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
/** Larger cap for service-directory record downloads (a cold load of a big chain in one answer). */
export const MAX_DIRECTORY_RESPONSE_BYTES = 512 * 1024 * 1024;
const MAX_SOCKETS_PER_HOST = 64;

export interface JsonRpcClientConfig {
  endpoint?: string | undefined;
  proxy_url?: string | undefined;
  tls?: TlsConfig | undefined;
  /** Seconds to wait for a response (settled: the default is in settings/tls-schema.ts). */
  timeout: number;
}

export interface JsonRpcReply {
  id: string;
  result?: JsonValue;
  error?: { code: number; message: string; data?: JsonValue };
}

export type JsonRpcClientErrorCode =
  | 'ERR_JSONRPC_NO_ENDPOINT'
  | 'ERR_JSONRPC_RESPONSE_TOO_LARGE'
  | 'ERR_JSONRPC_TIMEOUT'
  | 'ERR_JSONRPC_DEADLINE'
  | 'ERR_JSONRPC_CANCELLED'
  | 'ERR_JSONRPC_TRANSPORT'
  | 'ERR_JSONRPC_PROXY'
  | 'ERR_JSONRPC_INVALID_RESPONSE';

/** Kinds (core/outcome.ts); a transport failure has its kind from its cause (the socket's error code). */
const FAILURE: Record<JsonRpcClientErrorCode, FailureKind | undefined> = {
  ERR_JSONRPC_NO_ENDPOINT: 'internal',
  ERR_JSONRPC_RESPONSE_TOO_LARGE: 'resourceExhausted',
  ERR_JSONRPC_TIMEOUT: 'deadlineExceeded',
  ERR_JSONRPC_DEADLINE: 'deadlineExceeded',
  ERR_JSONRPC_CANCELLED: 'cancelled',
  ERR_JSONRPC_TRANSPORT: undefined,
  ERR_JSONRPC_PROXY: 'peerUnreachable',
  ERR_JSONRPC_INVALID_RESPONSE: 'protocolViolation',
};

export class JsonRpcClientError extends CodedError<JsonRpcClientErrorCode> {
  readonly failure: FailureKind | undefined;

  constructor(code: JsonRpcClientErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.failure = FAILURE[code];
    this.name = 'JsonRpcClientError';
  }
}

export class JsonRpcClient {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;
  private readonly proxy?: URL;
  private readonly tlsOptions: tls.ConnectionOptions;
  private readonly maxResponseBytes: number;

  constructor(
    config: JsonRpcClientConfig,
    overrides: { serverName?: string; maxResponseBytes?: number } = {},
  ) {
    this.maxResponseBytes = overrides.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    if (!config.endpoint)
      throw new JsonRpcClientError(
        'ERR_JSONRPC_NO_ENDPOINT',
        'no endpoint configured for the JSON-RPC client',
      );
    this.url = new URL(config.endpoint);
    this.timeoutMs = config.timeout * 1000;
    if (config.proxy_url) this.proxy = new URL(config.proxy_url);
    this.tlsOptions = {};
    if (config.tls) {
      const loaded = loadTls(config.tls);
      this.tlsOptions = { ...baseContextOptions(loaded) };
      const sn = overrides.serverName ?? config.tls.server_name;
      if (sn) this.tlsOptions.servername = sn;
      if (config.tls.insecure_skip_verify) this.tlsOptions.rejectUnauthorized = false;
    }
    const agentOpts = { keepAlive: true, maxSockets: MAX_SOCKETS_PER_HOST, ...this.tlsOptions };
    this.agent = this.url.protocol === 'https:' ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
    if (this.proxy && this.url.protocol === 'https:') this.tunnelThroughProxy();
  }

  get endpoint(): string {
    return this.url.href;
  }

  /**
   * Sends one call; `id` may be a string or omitted. Rejects on transport or decoding failure. With a
   * `scope` (a call relayed for a caller), the request also ends at the caller's deadline and when the
   * caller gives up: the socket is closed, so the backend sees the request aborted.
   */
  async call(
    method: string,
    params: JsonValue | undefined,
    id?: string | number,
    scope?: CallScope,
  ): Promise<JsonRpcReply> {
    const payload: JsonObject = { jsonrpc: '2.0', method };
    if (params !== undefined) payload.params = params;
    payload.id = id ?? null;
    const body = Buffer.from(JSON.stringify(payload));
    const raw = await this.post(body, scope);
    return decodeReply(raw);
  }

  close(): void {
    this.agent.destroy();
  }

  private post(body: Buffer, scope: CallScope | undefined): Promise<Buffer> {
    // Our own timeout, or the caller's deadline when that is earlier (then the error says so).
    const deadline = scope ? scope.deadline.within(this.timeoutMs) : Deadline.after(this.timeoutMs);
    const callerBound = deadline === scope?.deadline;
    const viaProxy = this.proxy && this.url.protocol === 'http:';
    const target = viaProxy ? this.proxy : this.url;
    const mod = target.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port || (target.protocol === 'https:' ? 443 : 80),
          path: viaProxy ? this.url.href : this.url.pathname + this.url.search,
          method: 'POST',
          agent: this.agent,
          headers: {
            'Content-Type': 'application/json',
            Accept: 'application/json',
            'Content-Length': body.length,
            Host: this.url.host,
          },
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > this.maxResponseBytes) {
              req.destroy(
                new JsonRpcClientError(
                  'ERR_JSONRPC_RESPONSE_TOO_LARGE',
                  `response larger than ${this.maxResponseBytes} bytes`,
                ),
              );
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
        },
      );
      const timer = deadline.onExpire(() =>
        req.destroy(
          callerBound
            ? new JsonRpcClientError('ERR_JSONRPC_DEADLINE', "no response within the caller's deadline")
            : new JsonRpcClientError('ERR_JSONRPC_TIMEOUT', `no response within ${this.timeoutMs / 1000}s`),
        ),
      );
      // Destroying the request closes its socket: the backend sees the request aborted.
      const unsubscribe = scope?.cancellation.onCancel((reason) =>
        req.destroy(
          new JsonRpcClientError('ERR_JSONRPC_CANCELLED', `request cancelled: ${reason.message}`, {
            cause: reason,
          }),
        ),
      );
      req.on('close', () => {
        deadline.cancelExpire(timer);
        unsubscribe?.();
      });
      req.on('timeout', () =>
        req.destroy(
          new JsonRpcClientError('ERR_JSONRPC_TIMEOUT', `no response within ${this.timeoutMs / 1000}s`),
        ),
      );
      req.on('error', (e) =>
        reject(
          e instanceof JsonRpcClientError
            ? e
            : new JsonRpcClientError('ERR_JSONRPC_TRANSPORT', e.message, { cause: e }),
        ),
      );
      req.end(body);
    });
  }

  /** For https endpoints behind an HTTP proxy: open each connection with CONNECT, then TLS on top. */
  private tunnelThroughProxy(): void {
    const proxy = this.proxy!;
    const target = this.url;
    const tlsOptions = this.tlsOptions;
    type Callback = (err: Error | null, socket?: net.Socket) => void;
    const agent = this.agent as unknown as { createConnection: (opts: unknown, cb: Callback) => void };
    agent.createConnection = (_opts: unknown, cb: Callback) => {
      const req = http.request({
        host: proxy.hostname,
        port: proxy.port || 80,
        method: 'CONNECT',
        path: `${target.hostname}:${target.port || 443}`,
      });
      req.once('connect', (res, socket) => {
        if (res.statusCode !== 200) {
          socket.destroy();
          cb(new JsonRpcClientError('ERR_JSONRPC_PROXY', `proxy refused CONNECT: HTTP ${res.statusCode}`));
          return;
        }
        const secure = tls.connect({
          ...tlsOptions,
          socket,
          servername: tlsOptions.servername ?? target.hostname,
        });
        cb(null, secure);
      });
      req.once('error', (e) =>
        cb(
          new JsonRpcClientError('ERR_JSONRPC_PROXY', `proxy connection failed: ${e.message}`, { cause: e }),
        ),
      );
      req.end();
    };
  }
}

export function decodeReply(raw: Buffer): JsonRpcReply {
  const text = raw.toString('utf8');
  if (exceedsJsonDepth(text)) {
    throw new JsonRpcClientError(
      'ERR_JSONRPC_INVALID_RESPONSE',
      `response nested too deep (limit ${MAX_JSON_DEPTH} levels)`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new JsonRpcClientError('ERR_JSONRPC_INVALID_RESPONSE', 'invalid JSON in response');
  }
  if (!isJsonObject(parsed))
    throw new JsonRpcClientError('ERR_JSONRPC_INVALID_RESPONSE', 'response is not a JSON object');
  const reply: JsonRpcReply = { id: typeof parsed.id === 'string' ? parsed.id : '' };
  if (parsed.result !== undefined && parsed.result !== null) reply.result = parsed.result;
  const err = parsed.error;
  if (err !== undefined && err !== null) {
    if (!isJsonObject(err) || typeof err.code !== 'number' || !Number.isInteger(err.code)) {
      throw new JsonRpcClientError('ERR_JSONRPC_INVALID_RESPONSE', 'invalid error object in response');
    }
    reply.error = { code: err.code, message: typeof err.message === 'string' ? err.message : '' };
    if (err.data !== undefined && err.data !== null) reply.error.data = err.data;
  }
  return reply;
}

/**
 * Non-object results/error data travel inside the EPS as `{"_": value}` [WIRE,
 * docs/protocol.md#value-wrapping].
 */
export function wrapValue(value: JsonValue | undefined): JsonObject | undefined {
  if (value === undefined || value === null) return undefined;
  return isJsonObject(value) ? value : { _: value };
}

export function unwrapValue(value: JsonObject | null | undefined): JsonValue | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === '_') return value._;
  return value;
}
