/**
 * In-memory announcement tables of both proxies (docs/protocol.md#announcements): one entry per (domain,
 * owner), where the owner is the announcing private proxy's operator (public table) or the public proxy the
 * domain is announced to (private table). Entries keep insertion order, the table has a size cap (expired
 * entries are purged first when it is reached), and expired entries never route.
 *
 * Deviation (documented): domains are compared case-insensitively (DNS names are), both for routing and for
 * the one-owner-per-domain rule; the stored text keeps the case it was announced with.
 */
import type { JsonObject } from '../../core/json.js';
import { isExpired, sameExpiry, type Expiry } from './expires-at.js';
import { CodedError } from '../../core/errors.js';

/** Default cap on the entries of one table. */
export const DEFAULT_MAX_ANNOUNCEMENTS = 10_000;

export type AnnouncementKind = 'public' | 'private';

export interface Announcement {
  domain: string;
  /** Public table: the private proxy's operator. Private table: the public proxy's operator. */
  owner: string;
  expiresAt: Expiry | null;
}

export type UpsertOutcome = 'created' | 'updated' | 'unchanged';

export class AnnouncementTableFullError extends CodedError<'ERR_PROXY_ANNOUNCEMENT_TABLE_FULL'> {
  constructor(max: number) {
    super('ERR_PROXY_ANNOUNCEMENT_TABLE_FULL', `announcement table full (${max} entries)`);
    this.name = 'AnnouncementTableFullError';
  }
}

function keyOf(domain: string, owner: string): string {
  return `${domain.toLowerCase()}\u0000${owner}`;
}

/** Whether two domain names are the same DNS name. */
export function sameDomain(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export class AnnouncementTable {
  private readonly entries = new Map<string, Announcement>();

  constructor(
    readonly kind: AnnouncementKind,
    private readonly maxEntries: number = DEFAULT_MAX_ANNOUNCEMENTS,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be ≥ 1');
  }

  get size(): number {
    return this.entries.size;
  }

  find(domain: string, owner: string): Announcement | undefined {
    return this.entries.get(keyOf(domain, owner));
  }

  /**
   * Creates the (domain, owner) entry or replaces its expiry. Throws AnnouncementTableFullError when a new
   * entry does not fit even after dropping expired ones.
   */
  upsert(announcement: Announcement, now: number = Date.now()): UpsertOutcome {
    const key = keyOf(announcement.domain, announcement.owner);
    const existing = this.entries.get(key);
    if (existing !== undefined) {
      if (sameExpiry(existing.expiresAt, announcement.expiresAt)) return 'unchanged';
      existing.expiresAt = announcement.expiresAt;
      return 'updated';
    }
    if (this.entries.size >= this.maxEntries) this.purgeExpired(now);
    if (this.entries.size >= this.maxEntries) throw new AnnouncementTableFullError(this.maxEntries);
    this.entries.set(key, { ...announcement });
    return 'created';
  }

  remove(domain: string, owner: string): boolean {
    return this.entries.delete(keyOf(domain, owner));
  }

  /** The first non-expired entry for `domain` (routing, normal mode). */
  route(domain: string, now: number = Date.now()): Announcement | undefined {
    for (const entry of this.entries.values()) {
      if (sameDomain(entry.domain, domain) && !isExpired(entry.expiresAt, now)) return entry;
    }
    return undefined;
  }

  /** Entries for `domain` owned by someone other than `owner`, expired ones included. */
  othersFor(domain: string, owner: string): Announcement[] {
    return [...this.entries.values()].filter((e) => sameDomain(e.domain, domain) && e.owner !== owner);
  }

  /** Non-expired entries in insertion order. */
  active(now: number = Date.now()): Announcement[] {
    return [...this.entries.values()].filter((e) => !isExpired(e.expiresAt, now));
  }

  all(): Announcement[] {
    return [...this.entries.values()];
  }

  purgeExpired(now: number = Date.now()): number {
    let removed = 0;
    for (const [key, entry] of this.entries) {
      if (isExpired(entry.expiresAt, now)) {
        this.entries.delete(key);
        removed += 1;
      }
    }
    return removed;
  }

  clear(): void {
    this.entries.clear();
  }
}

/**
 * The JSON form of an announcement [WIRE, docs/protocol.md#announcements], as stored and as returned by the
 * API.
 */
export function announcementJson(kind: AnnouncementKind, a: Announcement): JsonObject {
  const expires = a.expiresAt === null ? null : a.expiresAt.text;
  return kind === 'public'
    ? { expires_at: expires, operator: a.owner, domain: a.domain }
    : { expires_at: expires, proxy: a.owner, domain: a.domain };
}
