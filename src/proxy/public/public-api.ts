/**
 * Control methods of the public proxy (docs/protocol.md#proxy-control-api), called by its own EPS with
 * `_client` = the authenticated caller: `requestConnection` (P2P brokering, docs/protocol.md#p2p),
 * `announceConnections` and `getAnnouncements`.
 *
 * Fixes: the P2P placeholder is freed on every failure path; an expired announcement of another operator no
 * longer blocks a domain (it is dropped when someone else announces it); the announcement table is bounded.
 */
import { z } from 'zod';
import type { JsonObject, JsonValue } from '../../core/json.js';
import { ErrorCodes } from '../../core/messages.js';
import { logger } from '../../core/log.js';
import { method, MethodError, type MethodDefinition } from '../../jsonrpc/dispatcher.js';
import type { AnnouncementStore } from '../shared/announcement-store.js';
import {
  announcementJson,
  AnnouncementTableFullError,
  type AnnouncementTable,
} from '../shared/announcements.js';
import { allowedDomainsFor, clientInfoJson, clientInfoSchema, domainAllowed } from '../shared/client-info.js';
import type { EpsCaller } from '../shared/eps-link.js';
import { ExpiresAtError, isExpired, parseExpiresAt, type Expiry } from '../shared/expires-at.js';
import type { P2pTokenMeta } from './public-internal.js';
import { SerialQueue } from '../../core/serial.js';
import type { TokenTable } from '../shared/tokens.js';
import { errorMessage } from '../../core/errors.js';

const log = logger('public-proxy');

export interface PublicApiContext {
  name: string;
  internalEndpoint: string;
  announcements: AnnouncementTable;
  store: AnnouncementStore;
  p2pTokens: TokenTable<P2pTokenMeta>;
  eps: EpsCaller;
}

const ITEM_NOT_ALLOWED = { code: ErrorCodes.permissionDenied, message: 'not allowed' };
const ITEM_TAKEN = { code: 409, message: 'already taken' };
const ITEM_TABLE_FULL = { code: 503, message: 'too many announcements' };

const requestConnectionParams = z.looseObject({
  to: z.string().min(1),
  channel: z.string().min(1),
  _client: clientInfoSchema,
});

const announceConnectionsParams = z.looseObject({
  connections: z.array(z.looseObject({ domain: z.string().min(1), expires_at: z.unknown().optional() })),
  _client: clientInfoSchema,
});

const getAnnouncementsParams = z.looseObject({ _client: clientInfoSchema });

function internalError(): MethodError {
  return new MethodError(ErrorCodes.internal, 'internal error');
}

/** Validates every item's expires_at before anything is applied (-32602 on the first bad one). */
function parseExpiries(items: readonly { expires_at?: unknown }[]): (Expiry | null)[] {
  const now = Date.now();
  return items.map((item, i) => {
    try {
      return parseExpiresAt(item.expires_at, now);
    } catch (error) {
      if (!(error instanceof ExpiresAtError)) throw error;
      throw new MethodError(ErrorCodes.invalidParams, 'invalid params', {
        [`connections.${i}.expires_at`]: error.message,
      });
    }
  });
}

export function publicApiMethods(ctx: PublicApiContext): Record<string, MethodDefinition> {
  const lock = new SerialQueue();

  const requestConnection = method(requestConnectionParams, async (params) => {
    let issued;
    try {
      issued = ctx.p2pTokens.issue({ caller: params._client.name, target: params.to });
    } catch (error) {
      log.warn('requestConnection refused', { error: errorMessage(error) });
      throw new MethodError(ErrorCodes.unavailable, 'too many pending connections');
    }
    const token = issued.base64;
    try {
      const reply = await ctx.eps.call(`${params.to}._connectionRequest`, {
        endpoint: ctx.internalEndpoint,
        client: clientInfoJson(params._client),
        channel: params.channel,
        token,
      });
      if (reply.error !== undefined) {
        ctx.p2pTokens.revoke(token);
        throw MethodError.foreign(reply.error.code, reply.error.message, reply.error.data);
      }
    } catch (error) {
      if (error instanceof MethodError) throw error;
      ctx.p2pTokens.revoke(token);
      log.warn('_connectionRequest failed', { to: params.to, error: errorMessage(error) });
      throw internalError();
    }
    return { token, endpoint: ctx.internalEndpoint };
  });

  const announceConnections = method(announceConnectionsParams, (params) =>
    lock.run(async () => {
      const operator = params._client.name;
      const allowed = allowedDomainsFor(params._client, ctx.name);
      const expiries = parseExpiries(params.connections);
      const now = Date.now();
      const results: JsonValue[] = [];
      for (const [i, item] of params.connections.entries()) {
        const expiresAt = expiries[i] ?? null;
        if (!domainAllowed(item.domain, allowed)) {
          results.push(ITEM_NOT_ALLOWED);
          continue;
        }
        const others = ctx.announcements.othersFor(item.domain, operator);
        if (others.some((other) => !isExpired(other.expiresAt, now))) {
          results.push(ITEM_TAKEN);
          continue;
        }
        for (const other of others) {
          log.info('expired announcement replaced', {
            domain: other.domain,
            from: other.owner,
            to: operator,
          });
          ctx.announcements.remove(other.domain, other.owner);
        }
        const announcement = { domain: item.domain, owner: operator, expiresAt };
        let outcome;
        try {
          outcome = ctx.announcements.upsert(announcement, now);
        } catch (error) {
          if (!(error instanceof AnnouncementTableFullError)) throw error;
          results.push(ITEM_TABLE_FULL);
          continue;
        }
        if (outcome !== 'unchanged') {
          try {
            await ctx.store.persist(announcement);
          } catch (error) {
            log.error('cannot persist announcement', { error: errorMessage(error) });
            throw internalError();
          }
          log.info('announcement stored', { domain: item.domain, operator, expires_at: expiresAt?.text });
        }
        results.push(null);
      }
      return results;
    }),
  );

  const getAnnouncements = method(getAnnouncementsParams, () =>
    ctx.announcements.active().map((a): JsonObject => announcementJson('public', a)),
  );

  return {
    requestConnection,
    announceConnections,
    getAnnouncements,
  };
}
