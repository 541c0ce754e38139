/**
 * Persistence of announcements (docs/protocol.md#announcements): every change appends one datastore entry
 * (type 1 = public, 2 = private; id = 16 random bytes; data = the announcement JSON). At start-up the store
 * is replayed in order, later entries replacing the expiry of the same (domain, owner). An entry of the wrong
 * type or with undecodable data aborts start-up. Improvement: `sync()` also picks up entries other instances
 * sharing the store appended since (the proxies call it periodically).
 */
import { randomBytes } from 'node:crypto';
import { isJsonObject } from '../../core/json.js';
import type { Datastore } from '../../datastore/datastore.js';
import { logger } from '../../core/log.js';
import {
  announcementJson,
  AnnouncementTableFullError,
  type Announcement,
  type AnnouncementKind,
  type AnnouncementTable,
} from './announcements.js';
import { ExpiresAtError, parseRfc3339 } from './expires-at.js';
import { CodedError } from '../../core/errors.js';

const log = logger('announcements');

/** Datastore entry types [WIRE]. */
export const ANNOUNCEMENT_ENTRY_TYPES: Readonly<Record<AnnouncementKind, number>> = { public: 1, private: 2 };
const ENTRY_ID_BYTES = 16;

export class AnnouncementStoreError extends CodedError<'ERR_PROXY_ANNOUNCEMENT_STORE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PROXY_ANNOUNCEMENT_STORE', message, options);
    this.name = 'AnnouncementStoreError';
  }
}

/** Decodes one stored announcement; throws AnnouncementStoreError. */
export function decodeAnnouncement(kind: AnnouncementKind, data: Buffer): Announcement {
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch (error) {
    throw new AnnouncementStoreError('stored announcement is not valid JSON', { cause: error });
  }
  const ownerKey = kind === 'public' ? 'operator' : 'proxy';
  if (!isJsonObject(value) || typeof value.domain !== 'string' || typeof value[ownerKey] !== 'string') {
    throw new AnnouncementStoreError(`stored announcement lacks 'domain' or '${ownerKey}'`);
  }
  const expires = value.expires_at;
  if (expires !== undefined && expires !== null && typeof expires !== 'string') {
    throw new AnnouncementStoreError('stored announcement has a non-string expires_at');
  }
  try {
    const expiresAt =
      expires === undefined || expires === null || expires === '' ? null : parseRfc3339(expires);
    return { domain: value.domain, owner: value[ownerKey], expiresAt };
  } catch (error) {
    if (error instanceof ExpiresAtError) throw new AnnouncementStoreError(error.message, { cause: error });
    throw error;
  }
}

export class AnnouncementStore {
  private readonly entryType: number;

  constructor(
    private readonly datastore: Datastore,
    private readonly table: AnnouncementTable,
  ) {
    this.entryType = ANNOUNCEMENT_ENTRY_TYPES[table.kind];
  }

  /** Opens the datastore and replays it into the table; returns the number of entries read. */
  async load(): Promise<number> {
    await this.datastore.open();
    return this.sync();
  }

  /** Merges entries appended since the last read (by this or another instance) into the table. */
  async sync(): Promise<number> {
    const entries = await this.datastore.readNew();
    for (const entry of entries) {
      if (entry.type !== this.entryType) {
        throw new AnnouncementStoreError(
          `unexpected datastore entry type ${entry.type} (expected ${this.entryType} for ${this.table.kind} announcements)`,
        );
      }
      const announcement = decodeAnnouncement(this.table.kind, entry.data);
      try {
        this.table.upsert(announcement);
      } catch (error) {
        if (!(error instanceof AnnouncementTableFullError)) throw error;
        log.warn('stored announcement dropped: table full', { domain: announcement.domain });
      }
    }
    return entries.length;
  }

  /** Appends the current state of one announcement. */
  async persist(announcement: Announcement): Promise<void> {
    const data = Buffer.from(JSON.stringify(announcementJson(this.table.kind, announcement)));
    await this.datastore.append([{ type: this.entryType, id: randomBytes(ENTRY_ID_BYTES), data }]);
  }

  async close(): Promise<void> {
    await this.datastore.close();
  }
}
