/**
 * Counters per minute over the last minutes, for the status page's small charts (docs/status.md): a ring
 * of at most `minutes` buckets, each with at most `maxKeys` keys (more go to OVERFLOW_KEY). Prometheus
 * counters are cumulative and keep no history; this keeps the recent shape in a bounded space without a
 * Prometheus server.
 */
import { systemClock, type Clock } from '../core/clock.js';

export const MINUTE_MS = 60_000;
/** Default minutes kept. */
export const DEFAULT_MINUTES = 15;
/** Default keys per minute (e.g. method × status). */
export const DEFAULT_MAX_KEYS = 64;
/** Where counts of keys beyond the cap go. */
export const OVERFLOW_KEY = '(other)';

interface Bucket {
  minute: number;
  counts: Map<string, number>;
}

export interface MinuteCounts {
  /** Start of the minute (ISO 8601). */
  start: string;
  counts: Record<string, number>;
}

export class MinuteCounters {
  private buckets: Bucket[] = [];

  constructor(
    private readonly clock: Clock = systemClock,
    readonly minutes: number = DEFAULT_MINUTES,
    readonly maxKeys: number = DEFAULT_MAX_KEYS,
  ) {}

  add(key: string, n = 1): void {
    const minute = Math.floor(this.clock.now() / MINUTE_MS);
    let last = this.buckets[this.buckets.length - 1];
    if (last === undefined || last.minute !== minute) {
      last = { minute, counts: new Map() };
      this.buckets.push(last);
      this.dropOld(minute);
    }
    const counted = last.counts.has(key) || last.counts.size < this.maxKeys - 1 ? key : OVERFLOW_KEY;
    last.counts.set(counted, (last.counts.get(counted) ?? 0) + n);
  }

  /** Every minute of the window, oldest first, the current one last (empty minutes included). */
  snapshot(): MinuteCounts[] {
    const now = Math.floor(this.clock.now() / MINUTE_MS);
    this.dropOld(now);
    const byMinute = new Map(this.buckets.map((b) => [b.minute, b.counts]));
    const out: MinuteCounts[] = [];
    for (let m = now - this.minutes + 1; m <= now; m++) {
      const counts = byMinute.get(m);
      out.push({
        start: new Date(m * MINUTE_MS).toISOString(),
        counts: counts === undefined ? {} : Object.fromEntries(counts),
      });
    }
    return out;
  }

  private dropOld(current: number): void {
    const first = current - this.minutes + 1;
    if (this.buckets.length > 0 && this.buckets[0]!.minute < first) {
      this.buckets = this.buckets.filter((b) => b.minute >= first);
    }
  }
}
