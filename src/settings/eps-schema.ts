/**
 * Schema of the `eps` settings (EPS_SETTINGS; docs/settings.md#eps-settings): operator name,
 * directory (api or json), channels (one per type), optional metrics and signing blocks.
 * Additions over the original: gRPC client call/connect timeouts and reconnect wait, the gateway's per-request deadline; empty
 * api endpoint lists are errors.
 */
import { z } from 'zod';
import { fileList, hostPort, httpUrl, optional, seconds, typedUnion, withDefault } from './schema-util.js';
import { redisDatastoreSchema } from './datastore-schema.js';
import {
  jsonRpcClientSchema,
  jsonRpcServerSchema,
  metricsSchema,
  rateLimitsSchema,
  tlsSchema,
} from './tls-schema.js';

export const DEFAULT_GRPC_BIND_ADDRESS = 'localhost:4444';
/** Default deadline of one outgoing gRPC call, in seconds. */
export const DEFAULT_GRPC_CALL_TIMEOUT_SECONDS = 30;
/** Default time allowed to establish a gRPC connection, in seconds. */
export const DEFAULT_GRPC_CONNECT_TIMEOUT_SECONDS = 10;
/**
 * Default time a call the peer provably did not process keeps trying for the peer's (or its proxy's)
 * return, within its deadline, in seconds (channels/safe-retry.ts); 0: one retry at once, as the original
 * retries none. Long enough for a proxy or peer restart, short enough that a peer that is gone does not
 * hold every call for its whole deadline.
 */
export const DEFAULT_GRPC_RECONNECT_WAIT_SECONDS = 10;
/** Longest reconnect_wait: a call's deadline bounds it anyway. */
export const MAX_GRPC_RECONNECT_WAIT_SECONDS = 3600;
/**
 * Default deadline the gateway gives each request, in seconds, carried to every hop. The original has no
 * deadline on any hop (its calls wait without limit); 30 s is the bound our gRPC and backend clients
 * already gave a single hop (`call_timeout`, jsonrpc_client `timeout`), so a default setup gives up at the
 * same moment as before, now on every hop at once.
 */
export const DEFAULT_GATEWAY_CALL_TIMEOUT_SECONDS = 30;
export const DEFAULT_CACHE_ENTRIES_FOR_SECONDS = 5;
export const MAX_CACHE_ENTRIES_FOR_SECONDS = 3600;

/** Asynchronous calls (docs/settings.md#async): where the pending and awaited requests are kept. */
export const DEFAULT_ASYNC_STORE_DIRECTORY = 'async-state';
/** Time to live of an acknowledged request whose acknowledgement names none: one day. */
export const DEFAULT_ASYNC_TTL_SECONDS = 24 * 60 * 60;
/** Longest time to live an acknowledgement may ask for: 30 days. */
export const DEFAULT_ASYNC_MAX_TTL_SECONDS = 30 * 24 * 60 * 60;
/** Bounds of each table (pending answers; awaited answers): entries and bytes in total, entries per peer. */
export const DEFAULT_ASYNC_MAX_ENTRIES = 100_000;
export const DEFAULT_ASYNC_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_ASYNC_MAX_ENTRIES_PER_PEER = 10_000;
/** Seconds allowed for handing an expiry error to the own backend (retried at the next sweep). */
export const DEFAULT_ASYNC_DELIVERY_TIMEOUT_SECONDS = 30;
/** Bytes of records of one table concerning one other operator (16 MiB). */
export const DEFAULT_ASYNC_MAX_BYTES_PER_PEER = 16 * 1024 * 1024;
/** Store and forward (docs/protocol.md#store-and-forward): how long a queued message is kept: one day. */
export const DEFAULT_OUTBOX_TTL_SECONDS = 24 * 60 * 60;
/** First and longest pause between delivery attempts to an unreachable peer. */
export const DEFAULT_OUTBOX_RETRY_INITIAL_SECONDS = 1;
export const DEFAULT_OUTBOX_RETRY_MAX_SECONDS = 60;
/** Queued messages delivered to one peer at the same time. */
export const DEFAULT_OUTBOX_CONCURRENCY = 16;
export const MAX_OUTBOX_CONCURRENCY = 256;

export const CHANNEL_TYPES = [
  'stdout',
  'grpc_server',
  'grpc_client',
  'jsonrpc_server',
  'jsonrpc_client',
] as const;

export const stdoutSettingsSchema = z.strictObject({});

export const grpcServerSettingsSchema = z.strictObject({
  bind_address: withDefault(hostPort, DEFAULT_GRPC_BIND_ADDRESS),
  tls: tlsSchema,
  tcp_rate_limits: optional(rateLimitsSchema),
  /** Serve the conformance probe method (src/grpc/server-replies.ts); for `npm run conformance` only. */
  conformance_probe: withDefault(z.boolean(), false),
});

export const grpcClientSettingsSchema = z.strictObject({
  tls: tlsSchema,
  useProxy: withDefault(z.boolean(), true),
  call_timeout: withDefault(seconds, DEFAULT_GRPC_CALL_TIMEOUT_SECONDS),
  connect_timeout: withDefault(seconds, DEFAULT_GRPC_CONNECT_TIMEOUT_SECONDS),
  reconnect_wait: withDefault(
    z.number().min(0).max(MAX_GRPC_RECONNECT_WAIT_SECONDS),
    DEFAULT_GRPC_RECONNECT_WAIT_SECONDS,
  ),
});

/** The gateway: a JSON-RPC server block plus the deadline of each request. */
export const gatewaySettingsSchema = jsonRpcServerSchema.extend({
  call_timeout: withDefault(seconds, DEFAULT_GATEWAY_CALL_TIMEOUT_SECONDS),
});

/** Fields every channel item has besides `type` and `settings`. */
const channelCommon = {
  name: z.string(),
  /** Listed by some original settings files; accepted and unused (as in the original). */
  services: optional(z.array(z.string())),
};

export const channelSchema = typedUnion('channel', [
  z.strictObject({ ...channelCommon, type: z.literal('stdout'), settings: stdoutSettingsSchema }),
  z.strictObject({ ...channelCommon, type: z.literal('grpc_server'), settings: grpcServerSettingsSchema }),
  z.strictObject({ ...channelCommon, type: z.literal('grpc_client'), settings: grpcClientSettingsSchema }),
  z.strictObject({ ...channelCommon, type: z.literal('jsonrpc_server'), settings: gatewaySettingsSchema }),
  z.strictObject({ ...channelCommon, type: z.literal('jsonrpc_client'), settings: jsonRpcClientSchema }),
]);

export const channelsSchema = z.array(channelSchema).superRefine((channels, ctx) => {
  const seen = new Set<string>();
  channels.forEach((channel, index) => {
    if (seen.has(channel.type)) {
      ctx.addIssue({
        code: 'custom',
        path: [index, 'type'],
        message: `channel of same type already exists: ${channel.type}`,
      });
    }
    seen.add(channel.type);
  });
});

export const apiDirectorySettingsSchema = z.strictObject({
  endpoints: z.array(httpUrl).min(1, 'must list at least one endpoint'),
  server_names: z.array(z.string()).min(1, 'must list at least one server name'),
  cache_entries_for: withDefault(
    z.number().int().min(0).max(MAX_CACHE_ENTRIES_FOR_SECONDS),
    DEFAULT_CACHE_ENTRIES_FOR_SECONDS,
  ),
  jsonrpc_client: jsonRpcClientSchema,
  ca_certificate_files: fileList,
  ca_intermediate_certificate_files: withDefault(fileList, []),
  /** Our addition: where the verified chain is kept across restarts (optional; none = memory only). */
  state_file: z.string().min(1, 'must not be empty').optional(),
  /**
   * Our addition: exchange directory tips with gRPC peers and heal from them (docs/transparency.md). Off only
   * to measure its cost, or next to peers that must not see our tip.
   */
  exchange_tips: withDefault(z.boolean(), true),
});

export const jsonDirectorySettingsSchema = z.strictObject({
  path: z.string().min(1, 'must not be empty'),
});

export const directorySchema = typedUnion('directory', [
  z.strictObject({ type: z.literal('api'), settings: apiDirectorySettingsSchema }),
  z.strictObject({ type: z.literal('json'), settings: jsonDirectorySettingsSchema }),
]);

export const signingSchema = z.strictObject({
  certificate_file: optional(z.string()),
  key_file: optional(z.string()),
  ca_certificate_file: optional(z.string()),
  ca_intermediate_certificate_files: withDefault(fileList, []),
  /** Accepted, unused (as in the original). */
  name: optional(z.string()),
});

/**
 * Lease of the active instance on a shared (Redis) store of asynchronous calls: a standby takes over at
 * most this long after the active one died (docs/operations.md#an-active-standby-pair).
 */
export const DEFAULT_ASYNC_LEASE_SECONDS = 10;
/** Bounds of the lease: renewed every third of it, so at least a second; at most five minutes of takeover. */
export const MIN_ASYNC_LEASE_SECONDS = 1;
export const MAX_ASYNC_LEASE_SECONDS = 300;

export const asyncStoreSchema = typedUnion('async store', [
  z.strictObject({
    type: z.literal('file'),
    settings: z
      .strictObject({ directory: withDefault(z.string().min(1), DEFAULT_ASYNC_STORE_DIRECTORY) })
      .prefault({}),
  }),
  z.strictObject({ type: z.literal('memory'), settings: optional(z.strictObject({})) }),
  z.strictObject({
    type: z.literal('redis'),
    settings: redisDatastoreSchema,
    lease: withDefault(
      seconds.min(MIN_ASYNC_LEASE_SECONDS).max(MAX_ASYNC_LEASE_SECONDS),
      DEFAULT_ASYNC_LEASE_SECONDS,
    ),
  }),
]);

export const outboxSettingsSchema = z
  .strictObject({
    ttl: withDefault(seconds, DEFAULT_OUTBOX_TTL_SECONDS),
    /** Time to live by method (`<operator>.<method>`), instead of `ttl`. */
    method_ttl: withDefault(z.record(z.string().min(1), seconds), {}),
    retry_initial: withDefault(seconds, DEFAULT_OUTBOX_RETRY_INITIAL_SECONDS),
    retry_max: withDefault(seconds, DEFAULT_OUTBOX_RETRY_MAX_SECONDS),
    concurrency: withDefault(
      z.number().int().positive().max(MAX_OUTBOX_CONCURRENCY),
      DEFAULT_OUTBOX_CONCURRENCY,
    ),
  })
  .prefault({});

export const asyncSettingsSchema = z
  .strictObject({
    store: asyncStoreSchema.prefault({ type: 'file' }),
    default_ttl: withDefault(seconds, DEFAULT_ASYNC_TTL_SECONDS),
    max_ttl: withDefault(seconds, DEFAULT_ASYNC_MAX_TTL_SECONDS),
    max_entries: withDefault(z.number().int().positive(), DEFAULT_ASYNC_MAX_ENTRIES),
    max_bytes: withDefault(z.number().int().positive(), DEFAULT_ASYNC_MAX_BYTES),
    max_entries_per_peer: withDefault(z.number().int().positive(), DEFAULT_ASYNC_MAX_ENTRIES_PER_PEER),
    max_bytes_per_peer: withDefault(z.number().int().positive(), DEFAULT_ASYNC_MAX_BYTES_PER_PEER),
    outbox: outboxSettingsSchema,
    delivery_timeout: withDefault(seconds, DEFAULT_ASYNC_DELIVERY_TIMEOUT_SECONDS),
  })
  .prefault({});

export const epsSettingsSchema = z.strictObject({
  name: z.string().min(1, 'must not be empty'),
  directory: directorySchema,
  channels: channelsSchema,
  metrics: optional(metricsSchema),
  signing: optional(signingSchema),
  /** Our addition: asynchronous calls (acknowledge now, `respond` later). */
  async: asyncSettingsSchema,
});

export type ChannelType = (typeof CHANNEL_TYPES)[number];
export type StdoutSettings = z.output<typeof stdoutSettingsSchema>;
export type GrpcServerSettings = z.output<typeof grpcServerSettingsSchema>;
export type GrpcClientSettings = z.output<typeof grpcClientSettingsSchema>;
export type GatewaySettings = z.output<typeof gatewaySettingsSchema>;
/** One channel item `{name, type, settings, services?}`, discriminated by `type`. */
export type ChannelSettings = z.output<typeof channelSchema>;
/** The channel item of one type, e.g. `ChannelOf<'grpc_server'>`. */
export type ChannelOf<T extends ChannelType> = Extract<ChannelSettings, { type: T }>;
export type ApiDirectorySettings = z.output<typeof apiDirectorySettingsSchema>;
export type JsonDirectorySettings = z.output<typeof jsonDirectorySettingsSchema>;
export type DirectorySettings = z.output<typeof directorySchema>;
export type SigningSettings = z.output<typeof signingSchema>;
export type EpsSettings = z.output<typeof epsSettingsSchema>;
export type AsyncSettingsOutput = z.output<typeof asyncSettingsSchema>;
