/**
 * Settings blocks shared by all three programs: TLS, TCP rate limits, CORS, and the JSON-RPC server and
 * client blocks (docs/settings.md#shared-blocks). Key names stay as in YAML.
 * Additions over the original: JSON-RPC server body limit, request and TLS handshake timeouts, client timeout.
 */
import { z } from 'zod';
import { fileList, hostPort, httpUrl, optional, seconds, withDefault } from './schema-util.js';

/** Largest JSON-RPC request body accepted by default (4 MiB). */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Default time allowed to a JSON-RPC server for one request, in seconds. */
export const DEFAULT_REQUEST_TIMEOUT_SECONDS = 60;
/** Default time a JSON-RPC server (TLS) gives a new connection to finish its handshake, in seconds. */
export const DEFAULT_SERVER_HANDSHAKE_TIMEOUT_SECONDS = 10;
/** Default time a JSON-RPC client waits for a response, in seconds. */
export const DEFAULT_CLIENT_TIMEOUT_SECONDS = 30;
export const DEFAULT_JSONRPC_PATH = '/jsonrpc';

export const tlsSchema = z
  .strictObject({
    ca_certificate_files: fileList,
    certificate_file: optional(z.string()),
    key_file: optional(z.string()),
    server_name: optional(z.string()),
    verify_client: withDefault(z.boolean(), true),
    request_client_cert: withDefault(z.boolean(), false),
    insecure_skip_verify: withDefault(z.boolean(), false),
  })
  .refine((tls) => (tls.certificate_file === undefined) === (tls.key_file === undefined), {
    message: 'certificate_file and key_file must be given together',
  });

export const RATE_LIMIT_WINDOWS = ['second', 'minute', 'hour'] as const;

export const rateLimitSchema = z.strictObject({
  type: z.enum(RATE_LIMIT_WINDOWS),
  limit: z.number().int().min(1),
});
export const rateLimitsSchema = z.array(rateLimitSchema);

export const CORS_METHODS = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'OPTIONS'] as const;

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

export const corsSchema = z.strictObject({
  allowed_hosts: withDefault(z.array(z.string().refine(compiles, 'is not a valid regular expression')), []),
  allowed_headers: withDefault(z.array(z.string()), []),
  allowed_methods: withDefault(z.array(z.enum(CORS_METHODS)), [...CORS_METHODS]),
});

export const jsonRpcServerSchema = z.strictObject({
  bind_address: hostPort,
  path: withDefault(z.string().startsWith('/', 'must start with /'), DEFAULT_JSONRPC_PATH),
  cors: optional(corsSchema),
  tls: optional(tlsSchema),
  tcp_rate_limits: optional(rateLimitsSchema),
  max_body_bytes: withDefault(z.number().int().min(1), DEFAULT_MAX_BODY_BYTES),
  request_timeout: withDefault(seconds, DEFAULT_REQUEST_TIMEOUT_SECONDS),
  handshake_timeout: withDefault(seconds, DEFAULT_SERVER_HANDSHAKE_TIMEOUT_SECONDS),
});

export const jsonRpcClientSchema = z.strictObject({
  endpoint: optional(httpUrl),
  proxy_url: optional(httpUrl),
  local: withDefault(z.boolean(), true),
  tls: optional(tlsSchema),
  timeout: withDefault(seconds, DEFAULT_CLIENT_TIMEOUT_SECONDS),
});

/**
 * The metrics listener (/metrics, /healthz, /readyz and the status page). Without `tls`: plain HTTP (keep
 * it on 127.0.0.1); with `tls`: HTTPS, and clients need a certificate from its CAs unless
 * `verify_client: false` (docs/status.md#remote-access).
 */
export const metricsSchema = z.strictObject({
  bind_address: hostPort,
  tls: optional(tlsSchema),
});

export type TlsSettings = z.output<typeof tlsSchema>;
export type RateLimitWindow = (typeof RATE_LIMIT_WINDOWS)[number];
export type RateLimit = z.output<typeof rateLimitSchema>;
export type CorsMethod = (typeof CORS_METHODS)[number];
export type CorsSettings = z.output<typeof corsSchema>;
export type JsonRpcServerSettings = z.output<typeof jsonRpcServerSchema>;
export type JsonRpcClientSettings = z.output<typeof jsonRpcClientSchema>;
export type MetricsSettings = z.output<typeof metricsSchema>;
