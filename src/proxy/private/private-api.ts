/**
 * Control methods of the private proxy (docs/protocol.md#proxy-control-api), called by its own EPS with
 * `_client` = the authenticated caller: `incomingConnection` (from the public proxy: connect back for a
 * parked client), `announceConnection` (from an authorised operator: announce a domain to a public proxy) and
 * `getAnnouncements`.
 *
 * Security fix (SECURITY.md#per-adversary, hostile proxy): the back-connection goes only to an endpoint in
 * `allowed_public_endpoints` when that list is configured; anything else is refused and logged.
 */
import { z } from 'zod';
import type { JsonObject } from '../../core/json.js';
import { ErrorCodes } from '../../core/messages.js';
import { logger } from '../../core/log.js';
import { method, MethodError, type MethodDefinition } from '../../jsonrpc/dispatcher.js';
import { parseHostPort } from '../../net/host-port.js';
import type { AnnouncementStore } from '../shared/announcement-store.js';
import {
  announcementJson,
  AnnouncementTableFullError,
  type Announcement,
  type AnnouncementTable,
} from '../shared/announcements.js';
import { allowedDomainsFor, clientInfoSchema, domainAllowed } from '../shared/client-info.js';
import type { EpsCaller } from '../shared/eps-link.js';
import { ExpiresAtError, isExpired, parseExpiresAt } from '../shared/expires-at.js';
import { SerialQueue } from '../../core/serial.js';
import { TOKEN_BYTES, tokenKey, TokenError } from '../shared/tokens.js';
import { errorMessage } from '../../core/errors.js';

const log = logger('private-proxy');

export interface BackConnectionRequest {
  endpoint: string;
  token: Buffer;
  domain: string;
  publicProxy: string;
}

export interface PrivateApiContext {
  name: string;
  announcements: AnnouncementTable;
  store: AnnouncementStore;
  eps: EpsCaller;
  /** When set, the only endpoints a back-connection may go to. */
  allowedPublicEndpoints: readonly string[] | undefined;
  /** Starts a back-connection in the background; false when the proxy is at its connection cap. */
  connectBack: (request: BackConnectionRequest) => boolean;
}

const incomingConnectionParams = z.looseObject({
  token: z.string(),
  endpoint: z.string().min(1),
  domain: z.string().min(1),
  _client: clientInfoSchema,
});

const announceConnectionParams = z.looseObject({
  domain: z.string().min(1),
  proxy: z.string().min(1),
  expires_at: z.unknown().optional(),
  _client: clientInfoSchema,
});

const getAnnouncementsParams = z.looseObject({ _client: clientInfoSchema });

function invalidParams(field: string, message: string): MethodError {
  return new MethodError(ErrorCodes.invalidParams, 'invalid params', { [field]: message });
}

export function privateApiMethods(ctx: PrivateApiContext): Record<string, MethodDefinition> {
  const lock = new SerialQueue();

  const incomingConnection = method(incomingConnectionParams, (params) => {
    let token: Buffer;
    try {
      token = Buffer.from(tokenKey(params.token), 'base64');
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      throw invalidParams('token', `must be standard base64 of exactly ${TOKEN_BYTES} bytes`);
    }
    try {
      parseHostPort(params.endpoint);
    } catch {
      throw invalidParams('endpoint', 'must be host:port');
    }
    const publicProxy = params._client.name;
    const announcement = ctx.announcements.find(params.domain, publicProxy);
    if (announcement === undefined || isExpired(announcement.expiresAt)) {
      throw new MethodError(ErrorCodes.notFound, 'no matching connection found');
    }
    const allowed = ctx.allowedPublicEndpoints;
    if (allowed !== undefined && !allowed.includes(params.endpoint)) {
      log.error('back-connection refused: endpoint not in allowed_public_endpoints', {
        endpoint: params.endpoint,
        proxy: publicProxy,
        domain: params.domain,
      });
      throw new MethodError(ErrorCodes.permissionDenied, 'endpoint not allowed');
    }
    if (!ctx.connectBack({ endpoint: params.endpoint, token, domain: params.domain, publicProxy })) {
      throw new MethodError(ErrorCodes.unavailable, 'too many connections');
    }
    return { message: 'ok' };
  });

  /** Creates or updates the announcement and persists a change, one call at a time. */
  const store = (announcement: Announcement): Promise<void> =>
    lock.run(async () => {
      let outcome;
      try {
        outcome = ctx.announcements.upsert(announcement);
      } catch (error) {
        if (!(error instanceof AnnouncementTableFullError)) throw error;
        throw new MethodError(ErrorCodes.unavailable, 'too many announcements');
      }
      if (outcome === 'unchanged') return;
      try {
        await ctx.store.persist(announcement);
      } catch (error) {
        log.error('cannot persist announcement', { error: errorMessage(error) });
        throw new MethodError(ErrorCodes.internal, 'internal error');
      }
    });

  const announceConnection = method(announceConnectionParams, async (params) => {
    let expiresAt;
    try {
      expiresAt = parseExpiresAt(params.expires_at);
    } catch (error) {
      if (!(error instanceof ExpiresAtError)) throw error;
      throw invalidParams('expires_at', error.message);
    }
    if (params.proxy === ctx.name)
      throw new MethodError(ErrorCodes.badRequest, 'trying to announce with private proxy name');
    const allowed = allowedDomainsFor(params._client, ctx.name);
    if (!domainAllowed(params.domain, allowed)) {
      throw new MethodError(ErrorCodes.permissionDenied, 'not allowed to forward this domain', {
        allowed_domains: allowed,
      });
    }
    const announcement: Announcement = { domain: params.domain, owner: params.proxy, expiresAt };
    await store(announcement);
    log.info('announcing', { domain: params.domain, proxy: params.proxy, by: params._client.name });
    // Sent even when unchanged, so an explicit announcement always reaches the public proxy.
    const connections = [announcementJson('private', announcement)];
    let reply;
    try {
      reply = await ctx.eps.call(`${params.proxy}.announceConnections`, { connections });
    } catch (error) {
      log.warn('cannot reach the public proxy', { proxy: params.proxy, error: errorMessage(error) });
      throw new MethodError(ErrorCodes.internal, 'internal error');
    }
    if (reply.error !== undefined) {
      log.warn('public proxy refused the announcement', { proxy: params.proxy, error: reply.error.message });
      throw new MethodError(ErrorCodes.internal, 'internal error');
    }
    return 'ok';
  });

  const getAnnouncements = method(getAnnouncementsParams, () =>
    ctx.announcements.active().map((a): JsonObject => announcementJson('private', a)),
  );

  return { incomingConnection, announceConnection, getAnnouncements };
}
