/**
 * The periodic re-read of a proxy's announcement store (public and private alike): it picks up what other
 * instances sharing the store appended, and its outcome — the time of the last good read and the error of
 * the last read — is what `/readyz` checks (metrics/store-check.ts).
 */
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import { logger } from '../../core/log.js';
import type { StoreReads } from '../../metrics/store-check.js';
import type { AnnouncementStore } from './announcement-store.js';

const log = logger('announcements');

/** How often the announcements are re-read from the datastore by default. */
export const STORE_SYNC_INTERVAL_MS = 30_000;

export class AnnouncementSync {
  private timer: TimerHandle | undefined;
  private running = false;
  private reads: StoreReads = { okAt: 0, error: '' };

  constructor(
    private readonly store: AnnouncementStore,
    readonly intervalMs: number = STORE_SYNC_INTERVAL_MS,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Opens the store and replays it (a failure rejects: the proxy does not start); the entries read. */
  async load(): Promise<number> {
    const replayed = await this.store.load();
    this.reads = { okAt: this.clock.now(), error: '' };
    return replayed;
  }

  /**
   * Re-reads every interval until stop(); the next read is scheduled when the last one ended, so a hanging
   * store never piles up reads (its last good read just grows old, which /readyz reports).
   */
  start(): void {
    this.stop();
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.syncOnce().then(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One re-read; its outcome is kept for health(), never thrown. */
  async syncOnce(): Promise<void> {
    try {
      await this.store.sync();
      this.reads = { okAt: this.clock.now(), error: '' };
    } catch (error) {
      this.reads = { okAt: this.reads.okAt, error: errorMessage(error) };
      log.warn('announcement sync failed', { error: errorMessage(error) });
    }
  }

  /** The last re-read of the announcements (readiness). */
  health(): StoreReads {
    return this.reads;
  }
}
