/**
 * Directory transparency alarms for the status page (docs/status.md, docs/transparency.md): the last ones
 * the node raised (`withheld`, `fork`, `unverifiable`), newest first, with both tips. Read from the alarm
 * list the transparency layer already bounds (MAX_RECENT_ALARMS).
 */
import type { Alarm } from '../../transparency/alarms.js';
import type { Tip } from '../../transparency/tip.js';

export interface AlarmView {
  at: string;
  kind: Alarm['kind'];
  sd: string;
  peer: string;
  ours: string;
  theirs: string;
  detail: string;
}

function tipText(tip: Tip): string {
  return `${tip.size} records, head ${tip.head === '' ? '-' : tip.head.slice(0, 16)}`;
}

export function alarmsStatus(recent: readonly Alarm[]): AlarmView[] {
  return [...recent]
    .sort((a, b) => b.at - a.at)
    .map((a) => ({
      at: new Date(a.at).toISOString(),
      kind: a.kind,
      sd: a.sd,
      peer: a.peer,
      ours: tipText(a.ours),
      theirs: tipText(a.theirs),
      detail: a.detail,
    }));
}
