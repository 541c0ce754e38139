/**
 * Schema of the service directory settings (SD_SETTINGS; docs/settings.md#sd-settings).
 * Addition over the original: a top-level `metrics` block is honoured instead of silently dropped.
 */
import { z } from 'zod';
import { datastoreSchema } from './datastore-schema.js';
import { fileList, optional, withDefault } from './schema-util.js';
import { jsonRpcServerSchema, metricsSchema } from './tls-schema.js';

export const sdDirectorySchema = z.strictObject({
  datastore: datastoreSchema,
  ca_certificate_files: fileList,
  ca_intermediate_certificate_files: withDefault(fileList, []),
  /** Accepted and ignored, as in the original (use the top-level `metrics`). */
  metrics: optional(z.unknown()),
});

export const sdSettingsSchema = z.strictObject({
  jsonrpc_server: jsonRpcServerSchema,
  directory: sdDirectorySchema,
  metrics: optional(metricsSchema),
});

export type SdDirectorySettings = z.output<typeof sdDirectorySchema>;
export type SdSettings = z.output<typeof sdSettingsSchema>;
