/**
 * Schema of the proxy settings (PROXY_SETTINGS; docs/settings.md#proxy-settings): optional `metrics`,
 * `public` and `private` sections; empty settings are valid. Timeouts keep their fractions (the
 * original truncated them).
 *
 * Additions over the original: `jsonrpc_server.allowed_client_names` (client certificate names allowed on
 * the control API; default: the proxy's own name), `public.handshake_timeout` (deadline for a ClientHello
 * or token on a new connection; the original's fixed 5 s, which it never cleared) and
 * `private.allowed_public_endpoints` (the only internal endpoints the private proxy dials back to).
 */
import { z } from 'zod';
import { datastoreSchema } from './datastore-schema.js';
import { hostPort, optional, withDefault } from './schema-util.js';
import {
  DEFAULT_JSONRPC_PATH,
  jsonRpcClientSchema,
  jsonRpcServerSchema,
  metricsSchema,
  rateLimitsSchema,
  tlsSchema,
} from './tls-schema.js';

export const DEFAULT_TLS_BIND_ADDRESS = 'localhost:443';
export const DEFAULT_INTERNAL_BIND_ADDRESS = 'localhost:9999';
export const DEFAULT_INTERNAL_ENDPOINT = 'localhost:9999';
export const DEFAULT_ACCEPT_TIMEOUT_SECONDS = 10;
export const DEFAULT_PRIVATE_ENDPOINT_ADDRESS = 'localhost:8888';
export const DEFAULT_PRIVATE_ENDPOINT_TIMEOUT_SECONDS = 30;
/** Upper bound of the proxy timeouts, in seconds. */
export const MAX_PROXY_TIMEOUT_SECONDS = 3000;

export const DEFAULT_HANDSHAKE_TIMEOUT_SECONDS = 5;

const proxySeconds = z.number().min(0).max(MAX_PROXY_TIMEOUT_SECONDS);

/** The control API of a proxy: a JSON-RPC server plus the certificate names allowed to call it. */
export const proxyJsonRpcServerSchema = jsonRpcServerSchema.extend({
  allowed_client_names: optional(z.array(z.string().min(1))),
});

export const publicProxySchema = z.strictObject({
  name: z.string().min(1, 'must not be empty'),
  datastore: datastoreSchema,
  tls_bind_address: withDefault(hostPort, DEFAULT_TLS_BIND_ADDRESS),
  internal_bind_address: withDefault(hostPort, DEFAULT_INTERNAL_BIND_ADDRESS),
  internal_endpoint: withDefault(hostPort, DEFAULT_INTERNAL_ENDPOINT),
  tcp_rate_limits: optional(rateLimitsSchema),
  accept_timeout: withDefault(proxySeconds, DEFAULT_ACCEPT_TIMEOUT_SECONDS),
  handshake_timeout: withDefault(
    z.number().positive().max(MAX_PROXY_TIMEOUT_SECONDS),
    DEFAULT_HANDSHAKE_TIMEOUT_SECONDS,
  ),
  jsonrpc_client: jsonRpcClientSchema,
  jsonrpc_server: proxyJsonRpcServerSchema,
});

export const internalEndpointSchema = z.strictObject({
  address: withDefault(hostPort, DEFAULT_PRIVATE_ENDPOINT_ADDRESS),
  tls: optional(tlsSchema),
  jsonrpc_client: optional(jsonRpcClientSchema),
  jsonrpc_path: withDefault(z.string().startsWith('/', 'must start with /'), DEFAULT_JSONRPC_PATH),
  timeout: withDefault(proxySeconds, DEFAULT_PRIVATE_ENDPOINT_TIMEOUT_SECONDS),
});

export const privateProxySchema = z.strictObject({
  name: z.string().min(1, 'must not be empty'),
  datastore: datastoreSchema,
  internal_endpoint: internalEndpointSchema,
  allowed_public_endpoints: optional(z.array(hostPort)),
  jsonrpc_client: jsonRpcClientSchema,
  jsonrpc_server: proxyJsonRpcServerSchema,
});

export const proxySettingsSchema = z.strictObject({
  metrics: optional(metricsSchema),
  public: optional(publicProxySchema),
  private: optional(privateProxySchema),
});

export type PublicProxySettings = z.output<typeof publicProxySchema>;
export type InternalEndpointSettings = z.output<typeof internalEndpointSchema>;
export type PrivateProxySettings = z.output<typeof privateProxySchema>;
export type ProxySettings = z.output<typeof proxySettingsSchema>;
export type ProxyJsonRpcServerSettings = z.output<typeof proxyJsonRpcServerSchema>;
