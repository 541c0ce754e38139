/**
 * The caller of a proxy control method (`_client`, set by the proxy operator's own EPS after it
 * authenticated the caller; docs/protocol.md#proxy-control-api) and the authorisation rules built on it
 * (docs/protocol.md#proxy-authorisation): the caller's
 * `proxy` settings record for this proxy and its `allowed_domains` suffixes.
 */
import { z } from 'zod';
import type { JsonObject } from '../../core/json.js';
import { ErrorCodes } from '../../core/messages.js';
import { MethodError } from '../../jsonrpc/dispatcher.js';

const settingsItemSchema = z.looseObject({
  operator: z.string().nullish(),
  service: z.string().nullish(),
  environment: z.string().nullish(),
  settings: z.unknown(),
});

/** A directory entry as far as the proxies look at it: name and channels required, lists optional. */
const callerEntrySchema = z.looseObject({
  name: z.string(),
  channels: z.array(z.unknown()),
  services: z.array(z.unknown()).nullish(),
  settings: z.array(settingsItemSchema).nullish(),
  preferences: z.array(z.unknown()).nullish(),
  certificates: z.array(z.unknown()).nullish(),
});

export const clientInfoSchema = z.looseObject({
  name: z.string().min(1),
  entry: callerEntrySchema,
});

export type ClientInfo = z.output<typeof clientInfoSchema>;

/** The client info as plain JSON (to hand it on, e.g. as `client` of `_connectionRequest`). */
export function clientInfoJson(client: ClientInfo): JsonObject {
  return client as unknown as JsonObject;
}

/** 403 when the caller has no proxy settings for us [WIRE text]. */
export const NOT_AUTHORIZED = (): MethodError =>
  new MethodError(ErrorCodes.permissionDenied, 'not authorized');
/** 500 when those settings are malformed [WIRE text]. */
export const INVALID_DIRECTORY_SETTINGS = (): MethodError =>
  new MethodError(ErrorCodes.serverError, 'invalid directory settings');

const allowedDomainsSchema = z.looseObject({
  allowed_domains: z.array(z.string().startsWith('.')),
});

/**
 * The caller's allowed domain suffixes for proxy `ownName`: taken from the first settings record whose
 * service is "proxy" or empty and whose operator is `ownName` or empty. Throws MethodError 403 / 500.
 */
export function allowedDomainsFor(client: ClientInfo, ownName: string): string[] {
  const record = (client.entry.settings ?? []).find(
    (item) => (item.service === 'proxy' || !item.service) && (item.operator === ownName || !item.operator),
  );
  if (record === undefined) throw NOT_AUTHORIZED();
  const parsed = allowedDomainsSchema.safeParse(record.settings);
  if (!parsed.success) throw INVALID_DIRECTORY_SETTINGS();
  return parsed.data.allowed_domains;
}

/**
 * Case-sensitive suffix test against entries that start with a dot (docs/protocol.md#proxy-authorisation).
 */
export function domainAllowed(domain: string, allowedDomains: readonly string[]): boolean {
  return allowedDomains.some((suffix) => domain.endsWith(suffix));
}
