/**
 * The alarms of directory transparency [docs/transparency.md#alarms]: `withheld` (a peer gave us records
 * our SD did not), `fork` (a peer's validly signed chain and ours diverge), `unverifiable` (a peer claimed a
 * tip it could not back with records). Each is counted in `eps_directory_alarms_total{kind}`, logged with
 * the SD, the peer and both tips, and kept in a short list for the status page (`recent()`).
 *
 * Bounded: at most one alarm per peer and kind per ALARM_INTERVAL_MS (on the injected clock); the table of
 * last alarms holds at most MAX_ALARM_PEERS entries (oldest dropped) and the list MAX_RECENT_ALARMS.
 */
import { systemClock, type Clock } from '../core/clock.js';
import { logger } from '../core/log.js';
import { alarmsTotal } from './metrics.js';
import { formatTip, type Tip } from './tip.js';

const log = logger('transparency');

export type AlarmKind = 'withheld' | 'fork' | 'unverifiable';
export const ALARM_KINDS: readonly AlarmKind[] = ['withheld', 'fork', 'unverifiable'];

/** At most one alarm per peer and kind within this period. */
export const ALARM_INTERVAL_MS = 60_000;
/** Peers whose last alarm times are remembered (oldest forgotten first). */
export const MAX_ALARM_PEERS = 1_024;
/** Alarms kept for `recent()`. */
export const MAX_RECENT_ALARMS = 32;

export interface Alarm {
  kind: AlarmKind;
  /** When it was raised (ms, on the alarms' clock). */
  at: number;
  sd: string;
  peer: string;
  ours: Tip;
  theirs: Tip;
  detail: string;
}

export class Alarms {
  private readonly last = new Map<string, number>();
  private readonly list: Alarm[] = [];
  private readonly counts: Record<AlarmKind, number> = { withheld: 0, fork: 0, unverifiable: 0 };

  constructor(private readonly clock: Clock = systemClock) {}

  /** Raises an alarm unless this peer had one of this kind within ALARM_INTERVAL_MS; true when raised. */
  raise(alarm: Omit<Alarm, 'at'>): boolean {
    const now = this.clock.now();
    const key = `${alarm.kind} ${alarm.peer}`;
    const previous = this.last.get(key);
    if (previous !== undefined && now - previous < ALARM_INTERVAL_MS) {
      log.debug('directory alarm suppressed (one per peer and interval)', {
        kind: alarm.kind,
        peer: alarm.peer,
      });
      return false;
    }
    this.last.delete(key);
    if (this.last.size >= MAX_ALARM_PEERS) this.last.delete(this.last.keys().next().value!);
    this.last.set(key, now);
    const raised: Alarm = { ...alarm, at: now };
    this.list.push(raised);
    if (this.list.length > MAX_RECENT_ALARMS) this.list.shift();
    this.counts[alarm.kind]++;
    alarmsTotal.inc({ kind: alarm.kind });
    const fields = {
      kind: alarm.kind,
      sd: alarm.sd,
      peer: alarm.peer,
      our_tip: formatTip(alarm.ours),
      peer_tip: formatTip(alarm.theirs),
      detail: alarm.detail,
    };
    if (alarm.kind === 'withheld')
      log.warn('directory alarm: the service directory withheld records', fields);
    else if (alarm.kind === 'fork') log.error('directory alarm: a peer holds a forked directory', fields);
    else log.warn('directory alarm: a peer advertised a tip it cannot back', fields);
    return true;
  }

  /** The latest alarms, oldest first (at most MAX_RECENT_ALARMS). */
  recent(): readonly Alarm[] {
    return [...this.list];
  }

  /** Alarms raised since start, per kind. */
  totals(): Readonly<Record<AlarmKind, number>> {
    return { ...this.counts };
  }

  /** Peers with a remembered alarm time (bounded by MAX_ALARM_PEERS). */
  get trackedPeers(): number {
    return this.last.size;
  }
}
