/**
 * Periodic re-announcement by the private proxy (docs/protocol.md#announcements): at start and then every 10
 * minutes, all announcements are sent, grouped per public proxy, as `<proxy>.announceConnections`. Errors are
 * logged, and a round that some public proxy did not accept is repeated after REANNOUNCE_RETRY (jittered,
 * 100 ms doubling, reset by a round that every proxy accepted), so a restarted or briefly unreachable
 * public proxy has our announcements again soon. Unlike the original, expired announcements are no longer
 * re-sent.
 */
import { logger } from '../../core/log.js';
import { Backoff } from '../../core/backoff.js';
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { announcementJson, type AnnouncementTable } from '../shared/announcements.js';
import type { EpsCaller } from '../shared/eps-link.js';
import { errorMessage } from '../../core/errors.js';

const log = logger('private-proxy');

export const REANNOUNCE_INTERVAL_MS = 10 * 60 * 1000;
/** How long stop() waits for a round in progress. */
export const STOP_WAIT_MS = 5_000;
/** A round that some proxy did not accept is repeated after this backoff (never later than the interval). */
export const REANNOUNCE_RETRY = Object.freeze({ initialMs: 100, maxMs: 30_000, jitter: 0.5 });

export interface RoundOutcome {
  /** Public proxies that accepted the round. */
  accepted: number;
  /** Public proxies that refused it or could not be reached. */
  failed: number;
}

/** Sends one round to every public proxy that has announcements. */
export async function reannounceAll(table: AnnouncementTable, eps: EpsCaller): Promise<RoundOutcome> {
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
  const accepted = outcomes.filter(Boolean).length;
  return { accepted, failed: outcomes.length - accepted };
}

/** Runs `reannounceAll` now and every `intervalMs` (sooner after a failed round) until stopped; rounds never overlap. */
export class Reannouncer {
  private timer: TimerHandle | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly retry: Backoff;

  constructor(
    private readonly table: AnnouncementTable,
    private readonly eps: EpsCaller,
    private readonly intervalMs: number = REANNOUNCE_INTERVAL_MS,
    private readonly clock: Clock = systemClock,
  ) {
    this.retry = new Backoff({ ...REANNOUNCE_RETRY, clock });
  }

  start(): void {
    this.round();
  }

  private round(): void {
    if (this.stopped) return;
    this.running = reannounceAll(this.table, this.eps).then(({ failed }) => {
      if (this.stopped) return;
      let delay = this.intervalMs;
      if (failed === 0) this.retry.reset();
      else delay = Math.min(this.retry.fail(), this.intervalMs);
      this.timer = this.clock.setTimeout(() => this.round(), delay);
      this.timer.unref();
    });
  }

  /** Stops the loop; waits at most STOP_WAIT_MS for a round in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    let waitTimer: TimerHandle | undefined;
    const waited = new Promise<void>((resolve) => (waitTimer = this.clock.setTimeout(resolve, STOP_WAIT_MS)));
    await Promise.race([this.running, waited]);
    this.clock.clearTimeout(waitTimer);
  }
}
