/**
 * Periodic re-announcement by the private proxy (docs/protocol.md#announcements): at start and then every 10
 * minutes, all announcements are sent, grouped per public proxy, as `<proxy>.announceConnections`. Errors are
 * only logged. Unlike the original, expired announcements are no longer re-sent.
 */
import { logger } from '../../core/log.js';
import { announcementJson, type AnnouncementTable } from '../shared/announcements.js';
import type { EpsCaller } from '../shared/eps-link.js';
import { errorMessage } from '../../core/errors.js';

const log = logger('private-proxy');

export const REANNOUNCE_INTERVAL_MS = 10 * 60 * 1000;
/** How long stop() waits for a round in progress. */
export const STOP_WAIT_MS = 5_000;

/** Sends one round; resolves with the number of public proxies that accepted the call. */
export async function reannounceAll(table: AnnouncementTable, eps: EpsCaller): Promise<number> {
  const byProxy = new Map<string, ReturnType<typeof announcementJson>[]>();
  for (const announcement of table.active()) {
    const list = byProxy.get(announcement.owner) ?? [];
    list.push(announcementJson('private', announcement));
    byProxy.set(announcement.owner, list);
  }
  const outcomes = await Promise.all(
    [...byProxy].map(async ([proxy, connections]) => {
      try {
        const reply = await eps.call(`${proxy}.announceConnections`, { connections });
        if (reply.error === undefined) return true;
        log.warn('re-announcement refused', { proxy, code: reply.error.code, error: reply.error.message });
      } catch (error) {
        log.warn('re-announcement failed', { proxy, error: errorMessage(error) });
      }
      return false;
    }),
  );
  return outcomes.filter(Boolean).length;
}

/** Runs `reannounceAll` now and every `intervalMs` until stopped; rounds never overlap. */
export class Reannouncer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly table: AnnouncementTable,
    private readonly eps: EpsCaller,
    private readonly intervalMs: number = REANNOUNCE_INTERVAL_MS,
  ) {}

  start(): void {
    this.round();
  }

  private round(): void {
    if (this.stopped) return;
    this.running = reannounceAll(this.table, this.eps).finally(() => {
      if (this.stopped) return;
      this.timer = setTimeout(() => this.round(), this.intervalMs);
      this.timer.unref();
    });
  }

  /** Stops the loop; waits at most STOP_WAIT_MS for a round in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    let waitTimer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (waitTimer = setTimeout(resolve, STOP_WAIT_MS)));
    await Promise.race([this.running, waited]);
    clearTimeout(waitTimer);
  }
}
